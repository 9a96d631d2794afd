"""Only the allocation package (participants/allocation/, by subject) reads the allocation: a scan
of the source tree."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Names through which the allocation (sequence or product) could be read.
ALLOCATION_NAMES = re.compile(
    r"\b(AllocationSlot|AllocationKit|DosePreparation|KetamineReceipt|StockCount|allocation_slot"
    r"|dose_preparations|dosepreparation)\b"
)
PACKAGE = "participants/allocation/"  # the blinding package itself: every module in it
ALLOWED = {
    "participants/models.py",  # where the tables are declared
    "participants/views_pharmacy.py",  # unblinded pages: every view passes require_unblinded first
    # Builds a synthetic 2,000-participant trial for the export benchmark (writes slots in bulk);
    # not part of the application.
    "benchmarks/export_scale.py",
}


def test_no_other_module_names_the_allocation_tables() -> None:
    offenders = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT).as_posix()
        if path.suffix not in {".py", ".html", ".txt"} or rel.startswith((".venv/", "tests/", "var/")):
            continue
        if "/migrations/" in rel or rel in ALLOWED or rel.startswith(PACKAGE):
            continue
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1
        ):
            if ALLOCATION_NAMES.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []


def test_templates_never_receive_a_sequence_outside_the_unblinded_pages() -> None:
    unblinded_templates = {"pharmacy_home.html", "preparations.html", "unblinding_list.html"}
    # Outcome pages name the sequence key (sealed or released) and, only after release and only
    # for the statistician and the principal investigator, show results by sequence.
    unblinded_templates |= {
        "lock.html",
        "exports.html",
        "consort.html",
        "_efficacy.html",
        "analysis_report.html",
    }
    for path in ROOT.glob("**/templates/**/*.html"):
        if ".venv" in path.parts or path.name in unblinded_templates:
            continue
        assert "sequence" not in path.read_text(encoding="utf-8"), path
