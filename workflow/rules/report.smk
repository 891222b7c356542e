# Report: read only the records of a grid (plan, profiles, quality jobs and the cells they list) and write
# summary.md, summary.csv and plots beside it. Every output is flagged for Snakemake's HTML report
# (snakemake quick_test --report results/quick_test/report.html): its caption (workflow/report/) and category.


# The full grid's report lands at results/summary.md, the file users read.
rule report_full:
    input:
        plan="results/full/plan.json",
        profiles=lambda w: profile_records("full"),
        quality=lambda w: quality_records("full"),
    output:
        md=report_item("results/summary.md", "summary.rst", "summary", "Summary (markdown)", grid="full"),
        csv=report_item("results/summary.csv", "cells_csv.rst", "quality", "Per-cell records (CSV)", grid="full"),
        speed=report_item("results/speed.csv", "speed_csv.rst", "speed", "Profiled splits (CSV)", grid="full"),
        plots=report_plots("results/plots", grid="full"),
    log:
        "results/logs/report_full.log",
    shell:
        "sumbench report --plan {input.plan} --profiles {input.profiles} --quality {input.quality}"
        " --out {output.md} --title 'sumbench: full grid' > {log} 2>&1"


# Any other grid G reports to results/G/summary.md.
rule report:
    input:
        plan="results/{grid}/plan.json",
        profiles=lambda w: profile_records(w.grid),
        quality=lambda w: quality_records(w.grid),
    output:
        md=report_item("results/{grid}/summary.md", "summary.rst", "summary", "Summary (markdown)"),
        csv=report_item("results/{grid}/summary.csv", "cells_csv.rst", "quality", "Per-cell records (CSV)"),
        speed=report_item("results/{grid}/speed.csv", "speed_csv.rst", "speed", "Profiled splits (CSV)"),
        plots=report_plots("results/{grid}/plots"),
    log:
        "results/{grid}/logs/report.log",
    shell:
        "sumbench report --plan {input.plan} --profiles {input.profiles} --quality {input.quality}"
        " --out {output.md} --title 'sumbench: {wildcards.grid}' > {log} 2>&1"
