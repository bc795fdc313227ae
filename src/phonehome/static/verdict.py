"""One APK as ``phonehome apk`` reports and stores it: the full analysis, its signer with
the signatures verified (static/verify.py), the risk score with reasons and a one-line
verdict.

The score and verdict are the firmware diff's (:func:`phonehome.static.firmware.risk`,
:func:`~phonehome.static.firmware.describe`), so an app ranks the same whether it is
analysed alone or as part of an update.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phonehome.static import firmware as fw
from phonehome.static.apk import analyze_apk
from phonehome.static.verify import signing_report


def analyse_one(path: Path) -> dict[str, Any]:
    """The APK's full analysis plus signer, risk and a one-line verdict."""
    report = analyze_apk(path).to_dict()
    try:
        signing = signing_report(path, report.get("min_sdk"), report.get("target_sdk"))
    except OSError as exc:
        signing = {"problems": [f"signature not read: {exc}"]}
    summary = fw.summary(report, signing)
    report["signing"] = signing
    report["risk"] = fw.risk(summary)
    report["verdict"] = fw.describe(summary)
    return report
