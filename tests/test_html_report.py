"""Snakemake's HTML report of a grid: every plot with its caption and category, the tables as pages it shows inline,
and (in headless Chromium) every plot image actually loaded in the page."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from sumbench.records import CellRecord
from sumbench.records.plan import QualityJobRecord

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
PLOT_CATEGORIES = {"throughput_vs_effective_batch.png": "speed", "memory_vs_batch.png": "memory",
                   "rouge_vs_throughput.png": "quality", "grad_norm_traces.png": "diagnostics"}
PAGES = {"cells.html": "quality", "speed.html": "speed", "data.html": "data"}

# Appended to a copy of the report: shows each image result the way its eye button does (the app's own setView),
# waits for the <img> the app renders, and writes every image's naturalWidth into the DOM for --dump-dom.
CHECK_SCRIPT = """
<script>
window.addEventListener("load", async () => {
  const pause = () => new Promise(ok => setTimeout(ok, 50));
  for (let i = 0; i < 200 && typeof app === "undefined"; i++) await pause();
  const found = {};
  for (const [path, r] of Object.entries(results)) {
    if (!r.mime_type.startsWith("image/")) continue;
    app.setView({content: "img", contentPath: r.data_uri, resultPath: path});
    let img = null;
    for (let i = 0; i < 200 && !(img && img.complete); i++) {
      await pause();
      img = [...document.querySelectorAll("#app img")].find(el => el.getAttribute("src") === r.data_uri) || null;
    }
    found[r.filename] = img ? img.naturalWidth : -1;
  }
  const out = document.createElement("pre");
  out.id = "sumbench-check";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>
"""


def embedded(html: str, name: str):
    """A JSON object the report embeds as ``var <name> = {...};``."""
    match = re.search(rf"var {name} = (\{{.*?\}});\s*</script>", html, flags=re.S)
    assert match, f"no `var {name}` in the report"
    return json.loads(match.group(1))


def loaded_image_widths(report: Path) -> dict[str, int]:
    """Each image result of the report -> naturalWidth once the app shows it in headless Chromium (-1: never shown)."""
    with tempfile.TemporaryDirectory(prefix="sumbench-chromium-") as tmp:
        page = Path(tmp, "report.html")
        head, _, tail = report.read_text(encoding="utf-8").rpartition("</body>")  # the page's own, not one in a script
        page.write_text(head + CHECK_SCRIPT + "</body>" + tail, encoding="utf-8")
        proc = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile",
                               "--virtual-time-budget=60000", "--dump-dom", page.as_uri()],
                              capture_output=True, text=True, timeout=300)
    match = re.search(r'<pre id="sumbench-check">(.*?)</pre>', proc.stdout, flags=re.S)
    assert match, f"the check did not run (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    return json.loads(match.group(1).replace("&quot;", '"'))


@pytest.mark.slow
def test_the_html_report_has_every_plot_table_and_record_and_its_images_load(quick_test_run):
    report = quick_test_run / "results/quick_test/report.html"
    proc = subprocess.run(["snakemake", "quick_test", "--report", str(report)], cwd=quick_test_run,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and report.exists(), proc.stderr[-3000:]
    html = report.read_text(encoding="utf-8")
    results = {Path(path).name: r for path, r in embedded(html, "results").items()}
    plots = quick_test_run / "results/quick_test/plots"
    pngs = sorted(p.name for p in plots.glob("*.png"))
    assert set(PLOT_CATEGORIES) <= set(pngs)
    for name in pngs:  # every plot, its bytes, caption and category
        r = results[name]
        assert r["mime_type"] == "image/png" and base64.b64decode(r["data_uri"].split(",", 1)[1]) == (
            plots / name).read_bytes()
        assert len(r["caption"]) > 80 and r["labels"]["grid"] == "quick_test"
    categories = embedded(html, "categories")
    for name, category in {**PLOT_CATEGORIES, **PAGES, "summary.md": "summary", "summary.csv": "quality",
                           "speed.csv": "speed"}.items():
        assert any(Path(p).name == name for p in _paths_in(categories[category])), (name, category)
    cells = base64.b64decode(results["cells.html"]["data_uri"].split(",", 1)[1]).decode()
    assert cells.count("<tr") == 18 + 1  # one row per quality cell, and the header
    data = base64.b64decode(results["data.html"]["data_uri"].split(",", 1)[1]).decode()
    assert "dialogue_tokens.p50" in data and "Topics" in data

    if CHROMIUM is None:
        pytest.skip("no Chromium here (apt-get install -y chromium): the report's structure was checked, not its "
                    "rendering")
    widths = loaded_image_widths(report)
    assert set(widths) == set(pngs) and all(w > 0 for w in widths.values()), widths


def _paths_in(category) -> list[str]:
    """Result paths listed under a category of the report's ``categories`` (subcategory -> paths)."""
    return [p for paths in category.values() for p in paths]


def test_pages_show_each_cell_split_and_training_set(tmp_path):
    from sumbench.tracking.pages import write_pages

    cells = []
    for fold in (0, 1):
        path = tmp_path / f"runs/fold{fold}/metrics.json"
        CellRecord(model="tiny-bart", batch_size=4, grad_accum=1, fold=fold, train_examples=40,
                   original_train_examples=40, augmented_examples=0, source_truncation_rate=0.0,
                   data_stats={"examples": 40, "augmented": {}, "dialogue_tokens": {"p50": 41.0, "max": 90.0},
                               "topics": {"쇼핑": 30, "여행": 10 + fold}}).write(path)
        cells.append(path)
    QualityJobRecord(model="tiny-bart", grid="g", cells=[str(c) for c in cells]).write(tmp_path / "quality.json")
    (tmp_path / "summary.csv").write_text("model,fold,rouge_sum\ntiny-bart,0,0.71234\ntiny-bart,1,\n")
    (tmp_path / "speed.csv").write_text("")  # a grid without profiles
    made = write_pages(tmp_path / "summary.csv", tmp_path / "speed.csv", [tmp_path / "quality.json"], tmp_path / "pages")
    assert [p.name for p in made] == ["cells.html", "speed.html", "data.html"]
    cells_html = (tmp_path / "pages/cells.html").read_text()
    assert "<td>0.7123</td>" in cells_html and "<td>—</td>" in cells_html and cells_html.count("<tr") == 3
    assert "No rows" in (tmp_path / "pages/speed.html").read_text()
    data = (tmp_path / "pages/data.html").read_text()
    assert "dialogue_tokens.p50" in data and "augmented" not in re.findall(r"<th>(.*?)</th>", data)
    assert "none / cap all / fold 1" in data and "<td>11</td>" in data  # topic counts per training set
