"""Redraw docs/img/class_report.png: the top of a class report, shot by headless chromium.

    python docs/img/report_screenshot.py COURSE/reports/rnn_lstm/index.html

Crops the page's first screen and scales it to 760 pixels wide, in a few colours, so the
README's picture stays small.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def shoot(page, out=HERE / "class_report.png", size=(1100, 1500), width=760):
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "shot.png"
        subprocess.run(["chromium", *FLAGS, f"--user-data-dir={tmp}", f"--window-size={size[0]},{size[1]}",
                        f"--screenshot={raw}", Path(page).resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
        im = Image.open(raw).convert("RGB")
    im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
    im.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    return out


if __name__ == "__main__":
    print(shoot(sys.argv[1]))
