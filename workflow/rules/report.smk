# Report: read only the metrics.json records of a grid and write summary.md and summary.csv beside it.


# The full grid's report lands at results/summary.md, the file users read.
rule report_full:
    input:
        lambda w: GRIDS["full"].metrics_files() if "full" in GRIDS else [],
    output:
        md="results/summary.md",
        csv="results/summary.csv",
    log:
        "results/logs/report_full.log",
    shell:
        "sumbench report {input} --out {output.md} --title 'sumbench: full grid' > {log} 2>&1"


# Any other grid G reports to results/G/summary.md.
rule report:
    input:
        lambda w: GRIDS[w.grid].metrics_files(),
    output:
        md="results/{grid}/summary.md",
        csv="results/{grid}/summary.csv",
    log:
        "results/{grid}/logs/report.log",
    shell:
        "sumbench report {input} --out {output.md} --title 'sumbench: {wildcards.grid}' > {log} 2>&1"
