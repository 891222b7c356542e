# sumbench: Korean dialogue summarization benchmark over batch size x gradient accumulation x fold.
#   snakemake quick_test                      tiny models, synthetic data, offline -> results/quick_test/summary.md
#   snakemake --cores 1 --use-singularity     the full grid, each model in its container -> results/summary.md
# The default profile (workflow/profiles/default) sets the cores; configs/config.yaml holds the grids.

configfile: "configs/config.yaml"


# Image for data and report jobs under --use-singularity; each train job uses its model's image instead.
container: "docker://sumbench/seq2seq:0.1.0"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"


# The full grid's report: the file users read.
rule all:
    input:
        report_of("full"),
    default_target: True


# A small offline end-to-end run: tiny twins of three architectures on a synthetic corpus.
rule quick_test:
    input:
        report_of("quick_test"),


# Augmentation and cap axes on a tiny BART: augmentation effect, learning curve, data statistics.
rule quick_aug:
    input:
        report_of("quick_aug"),


# QLoRA (4-bit, bitsandbytes on CPU) beside plain LoRA on tiny causal twins.
rule quick_qlora:
    input:
        report_of("quick_qlora"),
