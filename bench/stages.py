"""Benchmark: every stage of `dvc repro` on synthetic tasks of growing size, each in a fresh process.

    python bench/stages.py [--sizes 10000,40000,100000] [--classes 100]
                             [--wide 1000:10000] [--dir DIR] [--stop-after STAGE]

Each task is a git + DVC copy of this project whose label table lists synthetic 64-px
pictures (class c: a smooth pattern seeded by c, each image mixing it with its own, so
the classes overlap), embedded by resnet18 at random init (64-px crops). Heads: mlp,
glmnet, knn, logreg (no finetune), with the defaults of params.yaml but for
`heads.glmnet.max_train_rows: 5000`, the cap train's forecast asks for at this scale.
Every stage runs as `dvc repro --single-item STAGE`, alone, in a fresh process: wall
seconds, CPU seconds (the stage and its children) and peak resident memory (its largest
process). Printed per stage: cost per image x class from the smallest task to the largest
(target: growth at most 1.5x), the whole pipeline after embed (target at 100k x 100
classes: under 30 minutes on 2 cores), the report's size (target: under 20 MB).
`--wide CLASSES:IMAGES` adds a task with many classes at one size, compared with the
100-class task closest in images. It runs without glmnet: at 1,000 classes its search is
forecast at about an hour even on 5,000 rows (train says so at load, naming the cap).
Images are made once under DIR/images and reused.
Run it alone on the machine: other jobs on 2 cores distort it 5-10x.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
SIDE = 64
PER_FOLDER = 1000


def image_path(root: Path, cls: int, j: int) -> Path:
    return root / f"c{cls:04d}" / f"{j:05d}.png"


def make_image(args: tuple[Path, int, int]) -> None:
    """Image (cls, j) is a function of (cls, j) alone: the class's pattern mixed with its own."""
    from PIL import Image

    root, cls, j = args
    path = image_path(root, cls, j)
    if path.exists():
        return
    pattern = np.random.default_rng([cls]).random((4, 4, 3))
    rng = np.random.default_rng([cls, j])
    mixed = 0.4 * pattern + 0.6 * rng.random((4, 4, 3))
    coarse = Image.fromarray((255 * mixed).astype(np.uint8)).resize((SIDE, SIDE), Image.BILINEAR)
    pixels = np.asarray(coarse, dtype=np.int16) + rng.integers(-12, 13, size=(SIDE, SIDE, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, compress_level=1)


def make_images(root: Path, classes: int, per_class: int) -> None:
    jobs = [(root, c, j) for c in range(classes) for j in range(per_class)]
    start = time.perf_counter()
    with Pool(os.cpu_count()) as pool:
        pool.map(make_image, jobs, chunksize=500)
    print(
        f"images: {len(jobs):,} of {classes} classes ready in {time.perf_counter() - start:.0f}s", flush=True
    )


def sh(cwd: Path, *args: str) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


HEADS = ["mlp", "glmnet", "knn", "logreg"]
WIDE_HEADS = ["mlp", "knn", "logreg"]


def make_project(where: Path, images: Path, classes: int, per_class: int, heads: list[str]) -> Path:
    """A git + DVC copy of the project whose label table lists `per_class` images of each class."""
    project = where / "project"
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    for name in ("features", "pipeline"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore", "data/.gitignore", "data/class-folders.txt"):
        (project / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, project / name)
    with open(project / "data" / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        for c in range(classes):
            for j in range(per_class):
                writer.writerow([image_path(Path("."), c, j).as_posix(), f"c{c:04d}"])
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(root=str(images), labels="data/labels.csv")
    params["backbone"].update(arch="resnet18", weights="none", resize=SIDE, crop=SIDE)
    params["embed"].update(store=str(where / "store"))
    params["heads"]["enabled"] = heads
    params["heads"]["glmnet"]["max_train_rows"] = 5000
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for args in (("git", "init", "-q"), ("dvc", "init", "-q"), ("git", "add", "-A"),
                 ("git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "task")):  # fmt: skip
        sh(project, *args)
    return project


def stages(project: Path) -> list[str]:
    out = subprocess.run(["dvc", "stage", "list", "--name-only"], cwd=project, check=True,
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.split()


def run_stage(project: Path, stage: str, log: Path) -> dict:
    """`dvc repro --single-item stage` in a fresh process: wall, CPU seconds and peak RSS."""
    start = time.perf_counter()
    with open(log, "a") as out:
        out.write(f"\n===== {stage}\n")
        out.flush()
        child = subprocess.Popen(
            ["dvc", "repro", "--single-item", stage], cwd=project, stdout=out, stderr=out
        )
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{stage} failed; its log: {log}")
    # wait4's usage covers the child and every descendant it waited for (dvc waits for the
    # stage's command); ru_maxrss is the largest single process, in KB on Linux.
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}


def run_task(
    where: Path, images: Path, classes: int, per_class: int, stop_after: str | None, heads: list[str] = HEADS
) -> dict:
    where.mkdir(parents=True, exist_ok=True)
    project = make_project(where, images, classes, per_class, heads)
    log = where / "repro.log"
    log.write_text("")
    n = classes * per_class
    results = {}
    for stage in stages(project):
        results[stage] = run_stage(project, stage, log)
        r = results[stage]
        print(f"  {n:>7,} images x {classes:>4} classes | {stage:<16} {r['wall']:8.1f} s wall "
              f"{r['cpu']:8.1f} CPU s {r['rss_mb']:7.0f} MB peak", flush=True)  # fmt: skip
        if stage == stop_after:
            break
    report = project / "reports" / "index.html"
    size = report.stat().st_size / 1e6 if report.exists() else None
    return {"images": n, "classes": classes, "stages": results, "report_mb": size, "project": str(project)}


def after_embed(task: dict) -> float:
    skip = ("download", "prepare", "embed")
    return sum(r["wall"] for s, r in task["stages"].items() if s not in skip)


def growth(small: dict, big: dict, label: str) -> None:
    """Per stage, the cost per image x class of `big` over `small` (1.0x: linear)."""
    unit_small, unit_big = small["images"] * small["classes"], big["images"] * big["classes"]
    print(f"growth of cost per image x class, {label}:")
    for stage, b in big["stages"].items():
        if stage not in small["stages"]:
            continue
        s = small["stages"][stage]
        wall = (b["wall"] / unit_big) / (s["wall"] / unit_small)
        cpu = (b["cpu"] / unit_big) / max(s["cpu"] / unit_small, 1e-12)
        print(f"  {stage:<16} wall {wall:5.2f}x  CPU {cpu:5.2f}x  peak memory {s['rss_mb']:6.0f} -> "
              f"{b['rss_mb']:6.0f} MB{'   <- over 1.5x' if wall > 1.5 else ''}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,40000,100000")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--wide", default="1000:10000", help="CLASSES:IMAGES, or '' for none")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/workbench-bench-pipeline"))
    parser.add_argument("--stop-after", default=None, help="a stage name: run up to it (debugging)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    wide = tuple(int(v) for v in args.wide.split(":")) if args.wide else None
    images = args.dir / "images"
    make_images(images, args.classes, max(sizes) // args.classes)
    if wide:
        make_images(images, wide[0], wide[1] // wide[0])
    tasks = []
    for n in sizes:
        print(f"task: {n:,} images in {args.classes} classes", flush=True)
        tasks.append(run_task(args.dir / f"task-{n}x{args.classes}", images, args.classes, n // args.classes,
                              args.stop_after))  # fmt: skip
    wide_task = None
    if wide:
        heads = ", ".join(WIDE_HEADS)
        print(f"task: {wide[1]:,} images in {wide[0]} classes (heads {heads})", flush=True)
        wide_task = run_task(args.dir / f"task-{wide[1]}x{wide[0]}", images, wide[0], wide[1] // wide[0],
                             args.stop_after, WIDE_HEADS)  # fmt: skip
    print()
    for task in [*tasks, *([wide_task] if wide_task else [])]:
        report = f"{task['report_mb']:.1f} MB" if task["report_mb"] is not None else "not built"
        print(f"{task['images']:>7,} images x {task['classes']:>4} classes: after embed "
              f"{after_embed(task) / 60:5.1f} min wall; report {report}; {task['project']}")  # fmt: skip
    if len(tasks) > 1:
        growth(tasks[0], tasks[-1], f"{tasks[0]['images']:,} -> {tasks[-1]['images']:,} images")
    if wide_task:
        base = min(tasks, key=lambda t: abs(t["images"] - wide_task["images"]))
        growth(base, wide_task, f"{base['classes']} -> {wide_task['classes']} classes")


if __name__ == "__main__":
    main()
