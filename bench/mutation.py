"""Mutation testing of the modules where a silent regression costs most (issue #23): ``make mutation``.

mutmut changes one thing at a time in the code (a ``<`` into ``<=``, a constant, a removed call) and runs the
tests that reach the changed function; a change no test notices is a *surviving* mutant, a hole in the tests.
The targets and the tests each may run are ``[tool.mutmut]`` in pyproject.toml; which functions count, per
target, and how long each may take, is ``TARGETS`` below. The report (score per target, every survivor with
its diff) is printed and written to ``bench/results/mutation.md``.

Run under ``tests.services`` (the Makefile does), which provides the PostgreSQL and Redis the tests use.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "results" / "mutation.md"
MUTMUT = [sys.executable, "-m", "mutmut"]

# Per target: the functions whose mutants count (a module's every function with ``*``); the tests each of its
# mutants may run (path or node-id prefixes: the fast tests that reach it, never the browser tests, since
# mutmut reruns them once per mutant); the share of mutants that must be killed; and the minutes the target
# may take at most (a safety cap: on a loaded machine the run is cut there, and the report says how many
# mutants were left unchecked). mutmut learns once which selected test reaches which function (its "stats",
# over pyproject.toml's pytest_add_cli_args_test_selection, the union of these); ``narrow_stats`` then keeps,
# for each target's functions, only that target's tests, so a mutant of the throttle never runs a sync.
ENGINE_PROOF = (
    # The fingerprints (WoW's and the ledger's per period) and the gaps they reveal ...
    "_fingerprint",
    "_detect_entry_gaps",
    "_reconcile_period_ids",
    # ... and the proof: the touched periods' sums against WoW's, a mismatch healed by a forced re-read.
    "_prove_and_heal",
    "_accounts_to_prove",
    "_accounts_to_rebuild",
    "_wow_sums",
    "_differences",
    "_heal_period",
)
TARGETS: dict[str, tuple[str, list[str], list[str], float, float]] = {
    "access (clients/access.py)": (
        "clients.access",
        ["*"],
        [
            "tests/clients/test_access.py",
            "tests/ledger/test_access.py",
            "tests/reliability/test_isolation_and_csrf.py",
            "tests/reliability/test_access_matrix.py",
        ],
        1.0,
        10,
    ),
    "log-in throttle (clients/throttle.py)": (
        "clients.throttle",
        ["*"],
        [
            "tests/clients/test_throttle_counters.py",
            "tests/clients/test_login.py",
            "tests/reliability/test_login_throttle.py",
        ],
        1.0,
        8,
    ),
    "run claim (syncs/runs.py sync_run_claim)": (
        "syncs.runs",
        ["sync_run_claim"],
        [
            "tests/syncs/test_run_claim.py",
            "tests/reliability/test_concurrency.py",
            "tests/reliability/test_fair_sharing.py::test_a_firm_runs_no_more_syncs_at_once_than_its_cap",
            "tests/reliability/test_fair_sharing.py::"
            "test_a_long_retry_after_becomes_a_not_before_that_the_claim_and_the_dispatcher_respect",
            "tests/reliability/test_liveness.py::test_a_worker_that_lost_its_claim_writes_nothing",
        ],
        0.9,
        6,
    ),
    "export writers (syncs/exports.py)": (
        "syncs.exports",
        ["*"],
        [
            "tests/ledger/test_exports.py",
            "tests/ledger/test_trial_balance.py",
            "tests/reliability/test_hostile_exports.py",
            "tests/i18n/test_exports_and_names.py",
            # The download a request gets (trial_balance_download, here since a17d336): closed periods'.
            "tests/locks/test_closed_periods.py",
        ],
        0.9,
        8,
    ),
    "engine: fingerprints and proof (syncs/engine.py)": (
        "syncs.engine",
        list(ENGINE_PROOF),
        # Each sync test once, against the strict sandbox: the WoW-like flavour changes WoW's HTTP answers,
        # not what the fingerprints and the proof compute (and a surviving mutant runs every selected test).
        [
            "tests/syncs/test_engine.py::*[[]strict*",
            "tests/syncs/test_engine.py::test_*[!]]",
            "tests/syncs/test_start_date_and_checks.py",
            "tests/syncs/test_proof.py",
        ],
        0.9,
        20,
    ),
}
# Scale every budget (MUTATION_BUDGET_SCALE=3 on a loaded machine, 0 for no limit);
# MUTATION_TARGETS=access,log-in runs only the targets whose names start so (the report covers all).
BUDGET_SCALE = float(os.environ.get("MUTATION_BUDGET_SCALE", "1"))
STATS = ROOT / "mutants" / "mutmut-stats.json"

KILLED = {"killed", "caught by type check"}


@dataclass
class Target:
    name: str
    module: str
    functions: list[str]
    tests: list[str]
    required: float
    minutes: float
    statuses: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def patterns(self) -> list[str]:
        """mutmut's names of this target's mutants: ``module.x_function__mutmut_N``, a method
        ``module.xǁClassǁmethod__mutmut_N``."""
        if self.functions == ["*"]:
            return [f"{self.module}.*"]
        return [f"{self.module}.x_{name}__mutmut_*" for name in self.functions]

    def owns_function(self, key: str) -> bool:
        """Whether mutmut's key of a function (``module.x_function``) is one of this target's."""
        return any(fnmatch.fnmatchcase(f"{key}__mutmut_1", pattern) for pattern in self.patterns)

    def selects(self, test: str) -> bool:
        """Whether a test (pytest's node id) is one of this target's: a whole file, node ids so starting, or
        node ids matching a pattern (``*``, ``[!]]``: fnmatch's)."""
        return any(
            fnmatch.fnmatchcase(test, wanted)
            if "*" in wanted
            else test.startswith(f"{wanted}::")
            if wanted.endswith(".py")
            else test.startswith(wanted)
            for wanted in self.tests
        )

    @property
    def killed(self) -> int:
        return sum(status in KILLED for status in self.statuses.values())

    @property
    def score(self) -> float:
        return self.killed / self.checked if self.checked else 0.0

    @property
    def checked(self) -> int:
        return sum(status != "not checked" for status in self.statuses.values())

    @property
    def survivors(self) -> list[str]:
        return sorted(name for name, status in self.statuses.items() if status == "survived")

    @property
    def other(self) -> dict[str, int]:
        """Mutants neither killed nor survived: not checked in time, no test reaches them, timeouts."""
        found: dict[str, int] = {}
        for status in self.statuses.values():
            if status not in KILLED and status != "survived":
                found[status] = found.get(status, 0) + 1
        return found

    @property
    def met(self) -> bool:
        return bool(self.statuses) and not self.other and self.score >= self.required


def mutmut(*args: str) -> str:
    result = subprocess.run([*MUTMUT, *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout


def run_mutants(patterns: list[str], budget_seconds: float | None) -> bool:
    """Run the mutants matching ``patterns``; stop (gracefully: results so far are kept) at the budget.
    True when every one was run."""
    process = subprocess.Popen([*MUTMUT, "run", "--max-children", "1", *patterns], cwd=ROOT)
    try:
        return process.wait(timeout=budget_seconds) == 0
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return False


def narrow_stats(targets: list[Target]) -> None:
    """Each target's functions keep only that target's tests in mutmut's map of which test reaches which
    function (mutants/mutmut-stats.json, which mutmut reads at every run): a mutant then runs only the
    fast tests chosen for its target. A function no chosen test reaches shows as "no tests" in the report."""
    stats = json.loads(STATS.read_text())
    tests_of = stats["tests_by_mangled_function_name"]
    for key, tests in tests_of.items():
        for target in targets:
            if target.owns_function(key):
                tests_of[key] = sorted(test for test in tests if target.selects(test))
    STATS.write_text(json.dumps(stats, indent=4))


PRAGMAS = ROOT / "mutants" / "pragmas.json"


def pragma_lines() -> dict[str, list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return {
        path: [line.strip() for line in (ROOT / path).read_text().splitlines() if "pragma: no mutate" in line]
        for path in config["only_mutate"]
    }


def forget_modules_whose_pragmas_changed() -> None:
    """mutmut keeps a function's results while its syntax tree is unchanged, and comments are not in the
    tree: a ``# pragma: no mutate`` added or moved renumbers the function's mutants without mutmut noticing,
    and the results kept then belong to other mutants. A module whose pragmas changed since the run that
    recorded them (mutants/pragmas.json) has its results dropped: all its mutants are checked again. (With no
    record yet, mutants/ is taken as matching the code.)"""
    if not PRAGMAS.exists():
        return
    before = json.loads(PRAGMAS.read_text())
    for path, lines in pragma_lines().items():
        if before.get(path) != lines:
            for suffix in (".meta", ".spans", ""):
                (ROOT / "mutants" / f"{path}{suffix}").unlink(missing_ok=True)


def run_targets(targets: list[Target]) -> float:
    """Each target's mutants in one mutmut run, cut at the target's budget. With MUTATION_CONTINUE=1 the
    mutants/ of an earlier run is kept and only its mutants not killed are run again (those left unchecked,
    and the survivors, which tests added since may kill); mutmut itself re-checks every function that
    changed since."""
    started = time.monotonic()
    if not os.environ.get("MUTATION_CONTINUE"):
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # a fresh run, never a stale cache
    else:
        forget_modules_whose_pragmas_changed()
    # Generating the mutants and learning which tests reach which function, once (one mutant runs too). When
    # continuing, this first brings mutants/ up to date with the code: the functions changed since get their
    # new mutants, not checked yet, before the statuses below pick which to run (before, the names of the
    # previous code's survivors were run, and the changed functions' new mutants were left unchecked).
    run_mutants(["clients.throttle.x__digest__mutmut_1"], None)
    PRAGMAS.write_text(json.dumps(pragma_lines(), indent=1))
    wanted = [name.strip() for name in os.environ.get("MUTATION_TARGETS", "").split(",") if name.strip()]
    for target in targets:
        if wanted and not any(target.name.startswith(name) for name in wanted):
            continue
        narrow_stats(targets)
        names = target.patterns
        if os.environ.get("MUTATION_CONTINUE"):
            # mutmut runs again every mutant it is named: name only those not killed yet (not checked, or
            # survived before tests were added), by their full names.
            collect([target])
            names = sorted(name for name, status in target.statuses.items() if status not in KILLED)
            if not names:
                continue
        target_started = time.monotonic()
        run_mutants(names, target.minutes * 60 * BUDGET_SCALE if BUDGET_SCALE else None)
        target.seconds = time.monotonic() - target_started
    return time.monotonic() - started


def collect(targets: list[Target]) -> None:
    for target in targets:
        target.statuses.clear()
    for line in mutmut("results", "--all", "true").splitlines():
        match = re.match(r"^\s+(\S+): (.+)$", line)
        if not match:
            continue
        name, status = match[1], match[2].strip()
        for target in targets:
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in target.patterns):
                target.statuses[name] = status


def report(targets: list[Target], seconds: float) -> str:
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [
        "# Mutation testing report (`make mutation`)",
        "",
        f"Run {today} on commit {commit}, {seconds / 60:.0f} min (mutmut 3, one mutant at a time, under "
        f"nice), time budgets x {BUDGET_SCALE:g}; load average at the end {load} on {os.cpu_count()} cores.",
        *(
            [
                "Continued (MUTATION_CONTINUE=1) from an earlier run's mutants/: the minutes are this run's; the "
                "mutants it did not run again were killed then, by the tests as they were.",
            ]
            if os.environ.get("MUTATION_CONTINUE")
            else []
        ),
        "",
        "Score = killed / mutants checked. A target is met when every mutant was checked and the score is at",
        "least the one required. 'Other' are mutants not checked within the target's time budget, mutants no",
        "selected test reaches, and timeouts (on a loaded machine a timeout says little, so it is not counted",
        "as killed).",
        "",
        "| target | mutants | checked | killed | survived | other | score | required | met | minutes |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: |",
    ]
    for t in targets:
        other = ", ".join(f"{n} {status}" for status, n in sorted(t.other.items())) or "-"
        score = t.killed / t.checked if t.checked else 0.0
        lines.append(
            f"| {t.name} | {len(t.statuses)} | {t.checked} | {t.killed} | {len(t.survivors)} | {other} "
            f"| {score:.0%} | {t.required:.0%} | {'yes' if t.met else 'NO'} | {t.seconds / 60:.1f} |"
        )
    lines += ["", "The tests each target's mutants run (those of them that reach the mutated function):", ""]
    for t in targets:
        functions = "every function" if t.functions == ["*"] else ", ".join(f"`{f}`" for f in t.functions)
        lines.append(f"- {t.name}, {functions}: " + ", ".join(f"`{test}`" for test in t.tests))
    for t in targets:
        if not t.survivors:
            continue
        lines += ["", f"## Surviving mutants: {t.name}", ""]
        for name in t.survivors:
            diff = mutmut("show", name).strip()
            changed = [
                row
                for row in diff.splitlines()
                if row.startswith(("+", "-")) and not row.startswith(("+++", "---"))
            ]
            lines += [
                f"- `{name}` ({t.statuses[name]})",
                "",
                "  ```diff",
                *[f"  {row}" for row in changed],
                "  ```",
            ]
    return "\n".join(lines) + "\n"


def check_copied_packages() -> None:
    """mutmut runs the tests in a copy of the project (mutants/): every top-level package must be copied,
    or a new app added since pyproject.toml's [tool.mutmut] was written fails every test."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    copied = set(config["source_paths"]) | set(config["also_copy"]) | {"tests", "mutants"}
    missing = sorted(
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in copied and not path.parent.name.startswith(".")
    )
    if missing:
        raise SystemExit(f"Add {missing} to also_copy in [tool.mutmut] (pyproject.toml)")


def check_test_selection(targets: list[Target]) -> None:
    """mutmut learns which test reaches which function only over pytest_add_cli_args_test_selection: every
    target's tests must be listed there (and only they, or the first run spends minutes on tests no
    mutant will run)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    listed = set(config["pytest_add_cli_args_test_selection"])
    # A pattern picks tests of the file it names: the file is what pytest is given.
    wanted = {test.split("::")[0] if "*" in test else test for target in targets for test in target.tests}
    if listed != wanted:
        raise SystemExit(
            "pytest_add_cli_args_test_selection in [tool.mutmut] (pyproject.toml) must list the targets' tests:"
            f" missing {sorted(wanted - listed)}, not any target's {sorted(listed - wanted)}"
        )


def main() -> int:
    check_copied_packages()
    targets = [Target(name, *spec) for name, spec in TARGETS.items()]
    check_test_selection(targets)
    seconds = run_targets(targets)
    collect(targets)
    text = report(targets, seconds)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text, encoding="utf-8")
    print(text)
    print(f"Written to {REPORT.relative_to(ROOT)}")
    return 0 if all(t.met for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
