"""Write a realistic synthetic catalog of N runs, through bathos' own write path.

    BTH_HOME=/tmp/bth-bench python benchmarks/make_catalog.py --runs 1000000

What it measures: how long it takes to build a catalog of N runs with the library's bulk path (run
records built as `bathos.models.Run`, unstructured with `bathos.models.unstructure`, written as hot
fragments with `store.write_record(..., durable=False)` in batches, each batch folded into Parquet
segments with `bathos.catalog.compact.compact`), split into generation, fragment writing and
compaction, and how many bytes per run the compacted catalog takes.

The catalog is the one `BTH_HOME` names (`BTH_CATALOG_DIR` overrides; default ~/.bth/catalog). It
refuses to add to a catalog that already holds runs unless --force, so a real catalog is safe.

The runs look like a researcher's: K projects, each a git repository whose commits and file versions
change over time (so dependency hashes repeat across runs, as they do in life); statuses mostly
completed, some failed, interrupted or lost; SLURM jobs on most runs; dirty trees with a snapshot
commit on some; 1-3 outputs with sha256; metrics; tags; log references (the log blobs themselves
are not written); spread uniformly over D days up to now. Field formats follow what `bth run`
records (`sha256:` hashes, argv after the script, sorted variables with secrets `<redacted>`).
Runs are written in time order, batch by batch, as a catalog that grew over those days would be;
while one batch is compacted the workers write the next (compaction is safe beside writers), and
the last compaction runs alone, so the catalog ends fully compacted. Everything but the clock (runs
end now) and the random part of each run id (drawn by `bathos.ids.new_run_id`) follows from --seed.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import hashlib
import json
import math
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from bathos import config
from bathos.catalog import compact, schema, store
from bathos.ids import new_run_id
from bathos.models import (
    Dependency,
    Environment,
    Git,
    Host,
    Logs,
    Output,
    Run,
    Sidecar,
    Slurm,
    unstructure,
)

# Bump when the generated records change shape, so cached benchmark catalogs are rebuilt.
GENERATOR_VERSION = 2
DAY = 86400.0

PROJECT_NAMES = ["protein-fold", "climate-ensemble", "vision-ssl", "rl-locomotion", "nlp-probing",
                 "graph-nets", "spectral-cluster", "quantum-chem", "neuro-decoding", "weather-ml"]
USERS = ["alice", "bob", "chen", "dmitri", "eva", "farah"]
SCRIPTS = [  # path, share of runs, median duration in seconds, has a sidecar
    ("scripts/experiments/train_model.py", 0.45, 2400.0, True),
    ("scripts/experiments/evaluate.py", 0.25, 180.0, True),
    ("scripts/experiments/sweep_lr.py", 0.12, 900.0, False),
    ("scripts/preprocess/build_dataset.py", 0.08, 600.0, True),
    ("scripts/analysis/make_figures.py", 0.10, 25.0, False),
]
MODULES = ["models.py", "data.py", "train_utils.py", "metrics.py", "config.py", "plotting.py",
           "losses.py"]
INPUTS = ["data/train.parquet", "data/val.parquet", "data/test.parquet", "configs/base.yaml"]
TAGS = ["baseline", "ablation", "sweep", "paper-fig3", "debug", "lr-sweep", "final", "rerun",
        "large-batch", "seed-study"]
STATUSES = [("completed", 0.85), ("failed", 0.09), ("interrupted", 0.04), ("lost", 0.02)]
ERRORS = [
    "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
    "ValueError: loss is nan at step {step}",
    "FileNotFoundError: [Errno 2] No such file or directory: 'data/val.parquet'",
    "AssertionError: shapes do not match: (64, 128) vs (64, 256)",
    "KeyError: 'learning_rate'",
]
PLATFORM = "Linux-5.14.0-427.el9.x86_64-x86_64-with-glibc2.34"


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _sha256(rng: random.Random) -> str:
    return "sha256:" + _hex(rng, 256)


def _digest(*parts: object) -> tuple[str, str]:
    """A stable (sha256, git blob id) pair for one version of one file, as bathos.hashing writes."""
    text = "\0".join(map(str, parts)).encode()
    return "sha256:" + hashlib.sha256(text).hexdigest(), hashlib.sha1(text).hexdigest()


class Project:
    """One synthetic git project: its commit history, file versions and environments over time."""

    def __init__(self, index: int, seed: int, start: float, end: float) -> None:
        rng = random.Random(f"{seed}:project:{index}")
        base = PROJECT_NAMES[index % len(PROJECT_NAMES)]
        self.slug = base if index < len(PROJECT_NAMES) else f"{base}-{index // len(PROJECT_NAMES)}"
        self.user = USERS[index % len(USERS)]
        self.package = self.slug.replace("-", "_")
        self.repo_root = f"/home/{self.user}/code/{self.slug}"
        self.weight = 1.0 / (index + 1) ** 0.7  # some projects are busier than others
        self.partition = rng.choice(["gpu", "gpu-a100", "cpu", "short"])
        self.cluster = rng.choice(["hpc1", "hpc2"])
        self.branches = ["main", "main", "main", "dev", f"{self.user}/refactor", "exp/new-loss"]
        self.scripts = []
        for path, share, median, sidecar in SCRIPTS:
            modules = rng.sample(MODULES, rng.randint(2, 4))
            inputs = rng.sample(INPUTS, rng.randint(0, 2))
            files = [(path, "script")]
            files += [(f"src/{self.package}/{m}", "module") for m in modules]
            if sidecar:
                files.append((path.removesuffix(".py") + ".bth.toml", "sidecar"))
            files += [(i, "input") for i in inputs]
            self.scripts.append((path, share, median, files[:8]))
        self.script_weights = [s[1] for s in self.scripts]
        self.files = sorted({f for s in self.scripts for f in s[3]})
        self.sizes = {f: rng.randint(400, 60_000) for f in self.files}
        # Commits from a month before the window to its end, a few a day; each changes 1-3 files.
        self.commit_times: list[float] = []
        self.commits: list[str] = []
        self.versions: list[dict[tuple[str, str], int]] = []
        t, current = start - 30 * DAY, dict.fromkeys(self.files, 0)
        while t < end:
            for f in rng.sample(self.files, rng.randint(1, 3)):
                current[f] += 1
            self.commit_times.append(t)
            self.commits.append(_hex(rng, 160))
            self.versions.append(dict(current))
            t += rng.expovariate(1 / (6 * 3600))
        epochs = int((end - start) / DAY / 14) + 4  # the package set changes every two weeks
        self.env_times = [start - 30 * DAY + k * 14 * DAY for k in range(epochs)]
        self._digests: dict[tuple[str, int], tuple[str, str]] = {}

    def commit_at(self, t: float) -> int:
        return max(0, bisect.bisect_right(self.commit_times, t) - 1)

    def digest(self, path: str, version: int) -> tuple[str, str]:
        key = (path, version)
        if key not in self._digests:
            self._digests[key] = _digest(self.slug, path, version)
        return self._digests[key]

    def fingerprint(self, t: float) -> str:
        epoch = bisect.bisect_right(self.env_times, t)
        return "sha256:" + hashlib.sha256(f"{self.slug}:env:{epoch}".encode()).hexdigest()


def make_projects(count: int, seed: int, start: float, end: float) -> list[Project]:
    return [Project(i, seed, start, end) for i in range(count)]


def _status(rng: random.Random) -> str:
    x = rng.random()
    for status, share in STATUSES:
        if x < share:
            return status
        x -= share
    return "completed"


def _params(rng: random.Random, script: str) -> dict[str, str]:
    params = {"seed": str(rng.randint(0, 9))}
    if "train" in script or "sweep" in script:
        params.update(
            n_steps=str(rng.choice([1000, 5000, 10000, 20000, 50000])),
            lr=rng.choice(["0.1", "0.01", "0.003", "0.001", "0.0003", "0.0001"]),
            batch_size=str(rng.choice([32, 64, 128, 256])),
            model=rng.choice(["resnet18", "resnet50", "vit-s", "mlp", "gcn"]),
        )
        if rng.random() < 0.3:
            params["weight_decay"] = rng.choice(["0.0", "0.01", "0.05"])
    elif "evaluate" in script:
        params.update(split=rng.choice(["val", "test"]), checkpoint="best")
    elif "build_dataset" in script:
        params.update(n_samples=str(rng.choice([10_000, 100_000, 1_000_000])), shards="16")
    else:
        params.update(fmt=rng.choice(["pdf", "png"]))
    return params


def _results(rng: random.Random, script: str, status: str) -> dict[str, Any]:
    if status != "completed":
        if status == "failed" and rng.random() < 0.5:
            return {"loss": round(rng.uniform(0.5, 9.0), 6)}
        return {}
    if "analysis" in script:
        return {"n_figures": rng.randint(1, 12)}
    if "build_dataset" in script:
        return {"n_rows": rng.randint(10_000, 1_000_000), "n_dropped": rng.randint(0, 500)}
    loss = rng.lognormvariate(-1.5, 0.6)
    results: dict[str, Any] = {
        "loss": round(loss, 6),
        "val_loss": round(loss * rng.uniform(1.0, 1.4), 6),
        "accuracy": round(min(0.999, 1 - loss / 3 + rng.gauss(0, 0.02)), 4),
    }
    if "train" in script or "sweep" in script:
        results.update(epochs=rng.randint(5, 100), best_step=rng.randint(100, 50_000),
                       throughput_samples_s=round(rng.uniform(200, 9000), 1))
    return results


def _outputs(rng: random.Random, project: Project, script: str, status: str, run_id: str,
             t_end: float) -> tuple[Output, ...]:
    n = {"completed": rng.randint(1, 3), "failed": rng.randint(0, 1),
         "interrupted": rng.randint(0, 1)}.get(status, 0)
    stem = script.rsplit("/", 1)[-1].removesuffix(".py")
    candidates = [f"outputs/{run_id}/metrics.json", f"outputs/{run_id}/{stem}.pt",
                  f"figures/{stem}/{run_id[:8]}-curve.pdf"]
    return tuple(
        Output(path=p, size=rng.randint(2_000, 400_000_000) if p.endswith(".pt") else
               rng.randint(500, 90_000), sha256=_sha256(rng),
               mtime=round(t_end - rng.uniform(0, 30), 3))
        for p in candidates[:n]
    )


def _logs(rng: random.Random, status: str) -> Logs:
    """References to the run's stdout/stderr blobs (the blobs themselves are not written)."""
    out = rng.randint(200, 400_000)
    err = rng.randint(100, 20_000) if status != "completed" or rng.random() < 0.3 else 0
    return Logs(stdout=_sha256(rng), stderr=_sha256(rng) if err else None, stdout_bytes=out,
                stderr_bytes=err, truncated=out > 256_000)


def make_run(rng: random.Random, project: Project, t_start: float, now: float,
             job_counter: list[int]) -> Run:
    """One realistic finished run of `project` started at `t_start` (epoch seconds)."""
    path, _, median, files = rng.choices(project.scripts, weights=project.script_weights)[0]
    status = _status(rng)
    duration = min(rng.lognormvariate(math.log(median), 0.8), max(1.0, now - t_start - 1))
    if status in ("failed", "interrupted"):
        duration *= rng.uniform(0.01, 0.9)
    t_end = t_start + duration
    run_id = new_run_id(int(t_start * 1000))
    started = dt.datetime.fromtimestamp(t_start, dt.UTC)
    ended = dt.datetime.fromtimestamp(t_end, dt.UTC)

    k = project.commit_at(t_start)
    versions = project.versions[k]
    dirty = rng.random() < 0.15
    dirty_file = rng.choice(files)[0] if dirty else None
    deps = []
    for fpath, role in files:
        if fpath == dirty_file:
            sha, blob = _sha256(rng), _hex(rng, 160)
        else:
            sha, blob = project.digest(fpath, versions[(fpath, role)])
        deps.append(Dependency(path=fpath, role=role, sha256=sha, size=project.sizes[(fpath, role)],
                               git_blob=blob))
    git = Git(
        repo_root=project.repo_root, commit=project.commits[k],
        branch=rng.choice(project.branches), dirty=dirty,
        snapshot=_hex(rng, 160) if dirty else None,
        untracked=("notes.md",) if dirty and rng.random() < 0.3 else (),
        pinned_ref=f"refs/bathos/commits/{project.commits[k]}",
    )
    hostname = f"node{rng.randint(1, 64):03d}"
    slurm = None
    if rng.random() < 0.7:
        job_counter[0] += rng.randint(1, 40)
        array = rng.random() < 0.3
        slurm = Slurm(
            job_id=str(job_counter[0]),
            array_job_id=str(job_counter[0] - rng.randint(0, 20)) if array else None,
            array_task_id=str(rng.randint(0, 99)) if array else None,
            partition=project.partition, node_list=hostname,
            cpus=rng.choice(["4", "8", "16"]), mem=rng.choice(["16000M", "32000M", "64000M"]),
            job_name=path.rsplit("/", 1)[-1].removesuffix(".py"), cluster=project.cluster,
        )
    params = _params(rng, path)
    argv: list[str] = []  # what follows the script, as `bth run` records it
    for key, value in params.items():
        argv += [f"--{key.replace('_', '-')}", value]
    variables = {"OMP_NUM_THREADS": rng.choice(["1", "4", "8"]), "PYTHONHASHSEED": "0"}
    if "gpu" in project.partition:
        variables["CUDA_VISIBLE_DEVICES"] = str(rng.randint(0, 3))
    if slurm is not None:
        variables.update(SLURM_JOB_ID=slurm.job_id, SLURM_JOB_PARTITION=project.partition,
                         SLURM_CPUS_PER_TASK=slurm.cpus or "1")
        if slurm.array_task_id is not None:
            variables["SLURM_ARRAY_TASK_ID"] = slurm.array_task_id
    if rng.random() < 0.2:
        variables["WANDB_API_KEY"] = "<redacted>"
    variables = dict(sorted(variables.items()))
    sidecar = next(
        ((f, project.digest(f, versions[(f, r)])[0]) for f, r in files if r == "sidecar"), None
    )
    stem = path.rsplit("/", 1)[-1].removesuffix(".py")
    return Run(
        id=run_id, project=project.slug, started_at=started,
        updated_at=ended if status != "lost" else started + dt.timedelta(seconds=duration / 2),
        status=status,  # type: ignore[arg-type]
        name=f"{stem}-{params['seed']}" if rng.random() < 0.4 else None,
        script=path, argv=tuple(argv), params=params, cwd=project.repo_root,
        ended_at=None if status == "lost" else ended,
        duration_s=None if status == "lost" else round(duration, 6),
        heartbeat_at=started + dt.timedelta(seconds=duration / 2) if status == "lost" else None,
        exit_code={"completed": 0, "failed": 1, "interrupted": 130}.get(status),
        signal="SIGINT" if status == "interrupted" else None,
        error=(rng.choice(ERRORS).format(step=rng.randint(1, 50_000))
               if status == "failed" else None),
        host=Host(hostname=hostname, user=project.user, pid=rng.randint(1000, 4_000_000),
                  cpu_count=rng.choice([32, 64, 128])),
        slurm=slurm, git=git, dependencies=tuple(deps),
        environment=Environment(
            python_executable=f"/home/{project.user}/.venvs/{project.slug}/bin/python",
            python_version="3.11.7", implementation="CPython", platform=PLATFORM,
            packages_fingerprint=project.fingerprint(t_start), packages_source="lockfile:uv.lock",
            variables=variables,
        ),
        outputs=_outputs(rng, project, path, status, run_id, t_end),
        results=_results(rng, path, status),
        logs=None if status == "lost" else _logs(rng, status),
        tags=tuple(rng.sample(TAGS, rng.choice([0, 0, 1, 1, 2, 3]))),
        campaign_id=(f"cmp-{project.slug}-{int(t_start // (7 * DAY))}"
                     if rng.random() < 0.25 else None),
        agent_mode=rng.choice([None, None, None, "collaborative", "autonomous"]),
        sidecar=Sidecar(path=sidecar[0], sha256=sidecar[1]) if sidecar else None,
    )


# Worker side: each worker rebuilds the projects once (cheap, seeded) and writes chunks of runs.
_WORLD: dict[str, Any] = {}


def _init_worker(projects: int, seed: int, start: float, end: float, catalog: str) -> None:
    _WORLD.update(projects=make_projects(projects, seed, start, end), catalog=Path(catalog),
                  now=end, seed=seed)


def make_records(chunk: int, count: int, t_lo: float, t_hi: float) -> list[dict[str, Any]]:
    """`count` unstructured run records started uniformly in [t_lo, t_hi) (in the worker)."""
    rng = random.Random(f"{_WORLD['seed']}:chunk:{chunk}")
    projects: list[Project] = _WORLD["projects"]
    weights = [p.weight for p in projects]
    job_counter = [1_000_000 + chunk * 997]
    records = []
    for t in sorted(rng.uniform(t_lo, t_hi) for _ in range(count)):
        project = rng.choices(projects, weights=weights)[0]
        records.append(unstructure(make_run(rng, project, t, _WORLD["now"], job_counter)))
    return records


def write_chunk(job: tuple[int, int, float, float]) -> tuple[int, int, float, float]:
    """Generate and write one chunk of fragments; (runs, bytes, generate s, write s)."""
    t0 = time.perf_counter()
    records = make_records(*job)
    t1 = time.perf_counter()
    size = 0
    for record in records:
        path = store.write_record(_WORLD["catalog"], record, durable=False)
        size += path.stat().st_size
    return len(records), size, t1 - t0, time.perf_counter() - t1


def catalog_file_counts(catalog: Path) -> tuple[int, int, int]:
    """(fragments, segments, segment bytes) under catalog/runs."""
    fragments = segs = size = 0
    for directory in store.project_dirs(catalog):
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.name.endswith(store.FRAGMENT_SUFFIX):
                    fragments += 1
                elif entry.name.endswith(store.SEGMENT_SUFFIX):
                    segs += 1
                    size += entry.stat().st_size
    return fragments, segs, size


def _batches(runs: int, batch: int, chunk_size: int, start: float,
             end: float) -> list[list[tuple[int, int, float, float]]]:
    """Chunks of work, batch by batch; run i starts in the i-th slice of the window."""
    batches, chunk_no = [], 0
    for b0 in range(0, runs, batch):
        jobs = []
        for lo in range(b0, min(runs, b0 + batch), chunk_size):
            hi = min(runs, b0 + batch, lo + chunk_size)
            jobs.append((chunk_no, hi - lo, start + (end - start) * lo / runs,
                         start + (end - start) * hi / runs))
            chunk_no += 1
        batches.append(jobs)
    return batches


def build(catalog: Path, runs: int, projects: int, days: float, seed: int, batch: int,
          workers: int, now: float | None = None) -> dict[str, Any]:
    """Write `runs` runs into `catalog` batch by batch, compacting after each; return figures.

    While batch i is compacted the workers already write batch i+1, as writers would in life
    (compaction is safe while writers write); the last compaction runs alone, so the catalog ends
    with every run folded into segments.
    """
    end = time.time() if now is None else now
    start = end - days * DAY
    batches = _batches(runs, batch, max(1, min(5_000, batch // (2 * workers))), start, end)
    totals = {"generate_s": 0.0, "write_s": 0.0, "compact_s": 0.0, "wait_s": 0.0,
              "fragment_bytes": 0}
    started = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, _init_worker, (projects, seed, start, end, str(catalog))) as pool:
        pending = pool.map_async(write_chunk, batches[0])
        for i in range(len(batches)):
            t0 = time.perf_counter()
            results = pending.get()
            t1 = time.perf_counter()
            if i + 1 < len(batches):
                pending = pool.map_async(write_chunk, batches[i + 1])
            report = compact.compact(catalog)
            t2 = time.perf_counter()
            for _, size, gen_s, write_s in results:
                totals["generate_s"] += gen_s
                totals["write_s"] += write_s
                totals["fragment_bytes"] += size
            totals["wait_s"] += t1 - t0
            totals["compact_s"] += t2 - t1
            print(f"  batch {i + 1}/{len(batches)}: {sum(r[0] for r in results):,} runs written "
                  f"(waited {t1 - t0:.1f}s for the writers), compacted in {t2 - t1:.1f}s "
                  f"(folded {report.folded:,}, merged {report.segments_merged} segments); "
                  f"{time.perf_counter() - started:.0f}s so far", flush=True)
    fragments, segs, size = catalog_file_counts(catalog)
    return {
        "runs": runs, "projects": projects, "days": days, "seed": seed,
        "generator_version": GENERATOR_VERSION, "layout": layout(), "built_at": end,
        "seconds": time.perf_counter() - started, "workers": workers,
        "fragments_left": fragments, "segments": segs, "segment_bytes": size, **totals,
    }


def layout() -> str:
    """What this bathos writes into segments (columns, row groups): a catalog built under another
    layout must be rebuilt before its figures mean anything for this code."""
    spec = json.dumps([schema.COLUMNS, getattr(compact, "ROW_GROUP_SIZE", None)], sort_keys=True)
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def has_runs(catalog: Path) -> bool:
    fragments, segs, _ = catalog_file_counts(catalog)
    return bool(fragments or segs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, required=True, help="how many runs to write")
    parser.add_argument("--projects", type=int, default=5, help="how many projects (default 5)")
    parser.add_argument("--days", type=float, default=90, help="spread over the last D days (90)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--batch", type=int, default=50_000,
                        help="fragments written between compactions (50000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes generating and writing records (CPU count)")
    parser.add_argument("--force", action="store_true",
                        help="add to a catalog that already holds runs")
    parser.add_argument("--meta", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.projects < 1 or args.days <= 0 or args.batch < 1 or args.workers < 1:
        parser.error("--runs, --projects, --days, --batch and --workers must be positive")

    catalog = config.catalog_dir()
    if has_runs(catalog) and not args.force:
        print(f"{catalog} already holds runs; refusing to add synthetic ones (point BTH_HOME at a "
              "scratch directory, or pass --force)", file=sys.stderr)
        return 2
    print(f"Writing {args.runs:,} runs over {args.days:g} days in {args.projects} projects into "
          f"{catalog} ({args.workers} workers, batches of {args.batch:,})", flush=True)
    figures = build(catalog, args.runs, args.projects, args.days, args.seed, args.batch,
                    args.workers)
    per_run = figures["segment_bytes"] / args.runs
    print(f"Built in {figures['seconds']:.1f}s ({args.runs / figures['seconds']:,.0f} runs/s): "
          f"generate {figures['generate_s']:.1f} CPU-s, write fragments {figures['write_s']:.1f} "
          f"CPU-s (summed over workers); main process: waited {figures['wait_s']:.1f}s for "
          f"writers, compacted {figures['compact_s']:.1f}s")
    print(f"Fragments written: {figures['fragment_bytes'] / args.runs:,.0f} B/run on average; "
          f"after compaction: {figures['segments']} segments, {figures['segment_bytes']:,} B "
          f"({per_run:,.0f} B/run), {figures['fragments_left']} fragments left")
    if args.meta:
        args.meta.write_text(json.dumps(figures, indent=1))
    if figures["fragments_left"]:
        print("warning: fragments are left uncompacted (were some runs still running?)",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
