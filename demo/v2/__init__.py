"""Recipe v2 of the synthetic crack data: many surface families, several crack-drawing methods,
more and harder distractors, photo effects (perspective, shadows, blur, noise, JPEG), photo-sized
images, and an `unseen` split whose surface families, crack styles and some distractor kinds
never occur in train/val/test.

Everything the recipe may draw is named in three registries (surfaces.SURFACES,
cracks.CRACK_STYLES, distractors.DISTRACTORS); recipe.RECIPE_V2 says which names each domain
uses and how often. Recipe v1 (demo/generator.py) is untouched: it still draws exactly the images
the shipped demo pair was trained and tested on.
"""
