"""Running `train` and `evaluate` in several processes, on one machine or many: detectron2's launcher.

The conventions are detectron2's (`tools/train_net.py`, `detectron2.engine.launch`): N processes
per machine (`--num-gpus`: one per GPU), M machines, this machine's rank, and the URL where the
processes meet (`tcp://HOST:PORT` of machine 0; "auto": a free local port, one machine only).
Inside, `detectron2.utils.comm` answers as under detectron2's launcher (rank, world size, local
process group), so detectron2's trainer wraps the model in DistributedDataParallel and its
evaluators gather their predictions.

Why not `detectron2.engine.launch` itself: v0.6's worker asserts CUDA and hard-codes NCCL. This one
is the same procedure with the backend chosen by the device: NCCL with one GPU per process where
the processes run on CUDA, gloo with CPU processes elsewhere (a CPU machine, or `--device cpu`).
One code path for both commands and both backends.

What a user sees comes from the main process (rank 0): the others run with their stdout and stderr
silenced. An exception in any process stops them all and reaches the caller with its traceback.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
from datetime import timedelta
from typing import Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import models  # noqa: F401  (makes detectron2 importable; must precede it)
from models.device import choose_device, cuda_count
from models.errors import ModelLoadError

from detectron2.engine.launch import DEFAULT_TIMEOUT, _find_free_port
from detectron2.utils import comm

INTERRUPTED = 130  # the exit status of a run stopped with Ctrl-C
STOP_SECONDS = 10  # after Ctrl-C, how long the processes have to stop on their own


class LaunchError(ValueError):
    """Launch settings that cannot work (the message says why, for the user)."""


def launch(main_func: Callable[..., int], num_processes: int = 1, *, num_machines: int = 1,
           machine_rank: int = 0, dist_url: str = "auto", device: str = "auto", args: tuple = (),
           timeout: timedelta = DEFAULT_TIMEOUT) -> int:
    """Run `main_func(*args)` in `num_processes` processes on this machine, as part of a job of
    `num_processes * num_machines` processes; return the exit status (0: every process succeeded).

    main_func: a module-level function (it is pickled by name) returning an exit status.
    num_processes: processes on this machine; where they run on CUDA, one per GPU (process i uses
        GPU i), otherwise CPU processes sharing this machine's cores.
    machine_rank: this machine's rank, 0 .. num_machines - 1; dist_url: "tcp://HOST:PORT" of machine
        0 (needed with several machines), or "auto" (a free port on this machine).
    device: the device rule of models.device ("auto", "cpu", "cuda"); it picks the backend.
    With a single process in all, `main_func` runs here, with no process group (as detectron2 does).
    Raises LaunchError for settings that cannot work.
    """
    world_size = num_processes * num_machines
    if num_processes < 1 or num_machines < 1:
        raise LaunchError(f"need at least one process and one machine (got {num_processes} and {num_machines}).")
    if not 0 <= machine_rank < num_machines:
        raise LaunchError(f"--machine-rank must be between 0 and {num_machines - 1} (got {machine_rank}).")
    if world_size == 1:
        return main_func(*args)
    backend = process_backend(num_processes, device)
    if dist_url == "auto":
        if num_machines > 1:
            raise LaunchError("with several machines, give --dist-url tcp://HOST:PORT, an address of "
                              "machine 0 that the others can reach.")
        dist_url = f"tcp://127.0.0.1:{_find_free_port()}"
    processes = mp.start_processes(
        _worker, nprocs=num_processes, join=False, daemon=False, start_method="spawn",
        args=(main_func, world_size, num_processes, machine_rank, dist_url, backend, args, timeout))
    stop_by = None  # after Ctrl-C: the time by which the processes must have stopped
    while True:
        try:
            if processes.join(timeout=None if stop_by is None else 1.0):  # True once all ended well
                return 0
        except mp.ProcessExitedException as e:  # a process returned a failing status (or was killed)
            return INTERRUPTED if stop_by is not None else (e.exit_code if e.exit_code > 0 else 1)
        except KeyboardInterrupt:  # Ctrl-C reached the processes too; a second one ends them now
            if stop_by is not None:
                break
            stop_by = time.monotonic() + STOP_SECONDS
        if stop_by is not None and time.monotonic() > stop_by:
            break  # e.g. one process is waiting, in a collective, for another that has stopped
    for process in processes.processes:
        if process.is_alive():
            process.terminate()
    return INTERRUPTED


def process_backend(num_processes: int, device: str = "auto") -> str:
    """"nccl" where the processes run on CUDA (one GPU each), else "gloo" (CPU processes).
    Raises LaunchError where this machine has fewer GPUs than processes, or one GPU is named."""
    try:
        chosen, _ = choose_device(device)
    except ModelLoadError as e:
        raise LaunchError(str(e)) from None
    if not chosen.startswith("cuda"):
        return "gloo"
    if chosen != "cuda":
        raise LaunchError(f"--device {chosen} names one GPU; several processes use one GPU each "
                          f"(give --device cuda or auto).")
    if num_processes > cuda_count():
        raise LaunchError(f"{num_processes} processes, one per GPU, but this machine has {cuda_count()} "
                          f"CUDA GPU(s). Give at most that many, or --device cpu for CPU processes.")
    return "nccl"


def _worker(local_rank: int, main_func, world_size: int, num_processes: int, machine_rank: int,
            dist_url: str, backend: str, args: tuple, timeout: timedelta) -> None:
    """One process of the job (started by torch.multiprocessing.spawn with its local rank)."""
    rank = machine_rank * num_processes + local_rank
    dist.init_process_group(backend=backend, init_method=dist_url, world_size=world_size, rank=rank,
                            timeout=timeout)
    try:
        # The processes of each machine form the "local" group detectron2's comm.get_local_rank()
        # reads; every process creates every group (torch requires it), as detectron2's launcher.
        for machine in range(world_size // num_processes):
            group = dist.new_group(list(range(machine * num_processes, (machine + 1) * num_processes)))
            if machine == machine_rank:
                comm._LOCAL_PROCESS_GROUP = group
        if backend == "nccl":
            torch.cuda.set_device(local_rank)  # so "cuda" means this process's GPU
        else:  # CPU processes share the cores instead of each using them all
            torch.set_num_threads(max(1, torch.get_num_threads() // num_processes))
        # torch's spawn leaves "spawn" as this process's start method, so the data loader's workers
        # would start as fresh interpreters, importing detectron2 without models.detectron2_compat.
        # They start as in a one-process run instead: the platform's default (fork on Linux).
        multiprocessing.set_start_method(multiprocessing.get_all_start_methods()[0], force=True)
        comm.synchronize()
        with _quiet_unless(comm.is_main_process()):
            status = main_func(*args)
        # Processes that stop for a user error (the same in each) wait here, so the main one has
        # said why before the launcher ends the others.
        comm.synchronize()
    finally:
        comm._LOCAL_PROCESS_GROUP = None
        dist.destroy_process_group()
    if status:
        sys.exit(status)


@contextlib.contextmanager
def _quiet_unless(speaking: bool):
    """stdout and stderr silenced unless `speaking` (exceptions still reach the launcher)."""
    if speaking:
        yield
        return
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), contextlib.redirect_stderr(devnull):
        yield
