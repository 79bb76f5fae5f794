"""
1. DAG-parse cost: what importing the provider's operators, sensor and decorator adds to a DAG file.

Each sample is a fresh interpreter that first imports what every DAG file imports (``import airflow.sdk``
and ``from airflow.sdk import DAG, task``), then the provider's DAG-facing modules, timing both steps with
``perf_counter``. Comparing the two steps inside one process removes the process-to-process noise that
dominates on shared cores (start-up alone varies by seconds there).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from benchmarks._common import REPO, Result, Row, child_env, median, ms, run_child

PROVIDER_MODULES = (
    "airflow_provider_browserbase.operators.session",
    "airflow_provider_browserbase.operators.context",
    "airflow_provider_browserbase.operators.downloads",
    "airflow_provider_browserbase.operators.playwright",
    "airflow_provider_browserbase.sensors.session",
    "airflow_provider_browserbase.decorators.browserbase",
)
TARGET = 0.03


def child() -> None:
    """Run in the fresh process: time the baseline and the provider's increment, list new modules."""
    import importlib

    start = time.perf_counter()
    import airflow.sdk  # noqa: F401 - what every DAG file imports
    from airflow.sdk import DAG, task  # noqa: F401

    baseline_done = time.perf_counter()
    before = set(sys.modules)
    for name in PROVIDER_MODULES:
        importlib.import_module(name)
    done = time.perf_counter()
    new = sorted(set(sys.modules) - before)
    stdlib = set(sys.stdlib_module_names)
    own = ("airflow", "airflow_provider_browserbase")

    def third_party(name: str) -> bool:
        top = name.split(".")[0]
        return top not in stdlib and top not in own and not top.startswith("_")

    # Packages not loaded at all before, and new submodules of third-party packages already loaded.
    tops = sorted({m.split(".")[0] for m in new if third_party(m) and m.split(".")[0] not in before})
    submodules = sorted(m for m in new if third_party(m) and m.split(".")[0] in before)
    airflow_new = sorted(m for m in new if m.split(".")[0] == "airflow")
    print(
        json.dumps(
            {
                "baseline": baseline_done - start,
                "provider": done - baseline_done,
                "third_party": tops,
                "third_party_submodules": submodules,
                "airflow_modules": airflow_new,
                "new_modules": new,
            }
        )
    )


def _import_profile(new_modules: set[str]) -> list[tuple[int, str]]:
    """Self time (µs) of the modules the provider's import added, from ``-X importtime``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "benchmarks.bench_import"],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=REPO,
        check=False,
    )
    found = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line.split(":", 1)[1].split("|")]
        if len(parts) == 3 and parts[0].isdigit() and parts[2] in new_modules:
            found.append((int(parts[0]), parts[2]))
    return sorted(found, reverse=True)


def _byte_compile() -> None:
    """
    Give every module a ``.pyc``, as an installed deployment has (pip compiles on install).

    Without it (an editable install, or ``PYTHONDONTWRITEBYTECODE`` set as on the CI machines) every fresh
    process compiles the sources again, and this benchmark would time the compiler, not the imports.
    """
    import compileall
    import sysconfig

    for folder in (sysconfig.get_paths()["purelib"], str(REPO / "airflow_provider_browserbase")):
        compileall.compile_dir(folder, quiet=2, workers=0)


def run(quick: bool) -> Result:
    samples = 3 if quick else 15
    result = Result("DAG-parse import")
    _byte_compile()
    runs = [run_child("benchmarks.bench_import", [], child_env()) for _ in range(samples)]
    baseline = median([r["baseline"] for r in runs])
    added = median([r["provider"] for r in runs])
    share = median([r["provider"] / r["baseline"] for r in runs])
    result.rows.append(
        Row(
            figure=f"import: `airflow.sdk` + provider modules vs `airflow.sdk` alone (median of {samples})",
            ours=ms(baseline + added),
            reference=ms(baseline),
            ratio=1 + share,
            target="provider adds < 3%",
            met=share < TARGET,
        )
    )
    result.rows.append(
        Row(
            figure="time the provider's import adds on top of `airflow.sdk`",
            ours=f"{ms(added)} (+{share * 100:.1f}%)",
            reference="—",
            ratio=None,
            target="—",
            met=None,
        )
    )
    third = runs[0]["third_party"]
    result.rows.append(
        Row(
            figure="third-party packages the provider's import adds beyond Airflow's own",
            ours=", ".join(third) or "none (only new submodules of loaded ones)",
            reference="—",
            ratio=None,
            target="no Playwright, FastAPI, uvicorn",
            met=not ({"playwright", "fastapi", "uvicorn"} & set(third)),
        )
    )
    result.notes.append(
        f"Fresh interpreters ({samples}); each times `import airflow.sdk; from airflow.sdk import DAG, task` "
        f"(median {ms(baseline)}) and then imports {', '.join(f'`{m}`' for m in PROVIDER_MODULES)} "
        f"(median {ms(added)}). The ratio is the median of per-process (baseline + provider) / baseline. "
        "Every module is byte-compiled first (site-packages and the provider), as an installed deployment is."
    )
    result.notes.append(
        f"Modules newly imported by the provider: {len(runs[0]['new_modules'])}, of which "
        f"{len(runs[0]['airflow_modules'])} are Airflow's own (e.g. "
        f"{', '.join(runs[0]['airflow_modules'][:6]) or 'none'}); third-party packages not loaded before: "
        f"{', '.join(third) or 'none'}; new submodules of third-party packages already loaded: "
        f"{', '.join(runs[0]['third_party_submodules']) or 'none'}."
    )
    if not quick:
        top = _import_profile(set(runs[0]["new_modules"]))[:8]
        result.notes.append(
            "Largest self import times in the provider's increment (`-X importtime`, one run): "
            + ", ".join(f"`{name}` {us / 1000:.1f} ms" for us, name in top)
        )
    return result


if __name__ == "__main__":
    child()
