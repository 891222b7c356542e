# Where practitioners already look, made from a grid's finished records: MLflow runs, and the HTML tables that
# Snakemake's report shows inline (snakemake quick_test --report results/quick_test/report.html). Their helpers (TRACKING,
# grid_outputs, report_item) are in common.smk.


# MLflow runs of one model of a grid (experiment = grid): one per quality cell and per profiled split, made from its
# finished records as soon as its quality job ends (beside the other models' jobs, not after all of them). A second
# pass over the same records adds none; a changed record replaces its run. The receipt lists the run ids.
rule mlflow:
    input:
        profiles="results/{grid}/profile/{model}.json",
        quality=lambda w: [q for q in quality_records(w.grid) if Path(q).parent.name == w.model],
    output:
        receipt="results/{grid}/mlflow/{model}.json",
    params:
        tracking=TRACKING,  # the store's URI and artifact folder: a change logs the grid again, into the new store
    log:
        "results/{grid}/logs/mlflow/{model}.log",
    localrule: True
    # In Snakemake's own process, on the host where MLflow was found at start (never in a job's image). The same
    # as: sumbench track --grid G --profiles ... --quality ... --uri URI --artifacts DIR --out RECEIPT
    run:
        log_grid(wildcards.grid, [input.profiles], input.quality, params.tracking, output.receipt, log[0])


# The tables of the HTML report, as pages it shows inline: per-cell records, profiled splits, data statistics.
rule pages:
    input:
        csv=lambda w: report_file(w.grid, "summary.csv"),
        speed=lambda w: report_file(w.grid, "speed.csv"),
        quality=lambda w: quality_records(w.grid),
    output:
        cells=report_item("results/{grid}/pages/cells.html", "cells.rst", "quality", "Per-cell records"),
        speed=report_item("results/{grid}/pages/speed.html", "speed_page.rst", "speed", "Profiled splits"),
        data=report_item("results/{grid}/pages/data.html", "data.rst", "data", "Data statistics"),
    params:
        out=lambda w, output: Path(output.cells).parent,
    log:
        "results/{grid}/logs/pages.log",
    shell:
        "sumbench pages --summary-csv {input.csv} --speed-csv {input.speed} --quality {input.quality}"
        " --out {params.out} > {log} 2>&1"
