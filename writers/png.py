"""A chart picture (PNG) without downloads: headless Chromium screenshots the offline chart page.

plotly's own image export needs kaleido, which is not installed and would fetch a browser;
the HTML already draws the charts, so any local Chromium/Chrome/Edge can take the picture.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from records.errors import SafeTrainError
from records.instance import private
from records.reports.sheet import Sheet
from writers.html import write_chart_page

log = logging.getLogger(__name__)

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
            "microsoft-edge", "msedge", "chrome")
DEFAULT_KEYS = ("leaders/units", "coverage/units")


def find_browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise SafeTrainError("画图需要本机的 Chromium / Chrome / Edge（无头模式截图），没有找到。"
                         "Debian/Ubuntu：apt-get install -y chromium；或改用 HTML 报告中的图表。")


def write_png(path: Path, sheets: Sequence[Sheet], *, title: str, summary: Sequence[str] = (),
              keys: Sequence[str] = DEFAULT_KEYS, width: int = 1200, height: int | None = None,
              timeout: float = 120.0) -> Path:
    """Screenshot the charts named by `keys` (with the summary above them) to `path`."""
    browser = find_browser()
    height = height or (120 + 36 * len(summary) + 440 * len(keys))
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="safetrain-png-") as tmp:
        page = write_chart_page(Path(tmp) / "charts.html", sheets, title=title, keys=keys,
                                summary=summary, width=width)
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                   "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp}/profile",
                   "--virtual-time-budget=10000", f"--window-size={width},{height}",
                   f"--screenshot={path}", page.as_uri()]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                    check=False)
        except subprocess.TimeoutExpired:
            raise SafeTrainError(f"{browser} 截图超时（{timeout:.0f} 秒）") from None
    if not path.exists():
        log.error("%s 截图失败：%s", browser, result.stderr[-2000:])
        raise SafeTrainError(f"{browser} 没有生成图片（退出码 {result.returncode}）：用 -v 查看详情")
    return private(path)
