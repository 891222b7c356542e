# sumbench: Korean dialogue summarization benchmark over batch size x gradient accumulation x fold.
#   snakemake quick_test                      tiny models, synthetic data, offline -> results/quick_test/summary.md
#   snakemake --cores 1 --use-singularity --apptainer-args '--nv --bind ${HF_HOME:-$HOME/.cache/huggingface} --env HF_HOME=${HF_HOME:-$HOME/.cache/huggingface}'   the full grid, each model in its container -> results/summary.md
#   snakemake quick_test --report results/quick_test/report.html   Snakemake's HTML report of what it built
#   mlflow ui --backend-store-uri sqlite:///results/mlflow.db       every grid's runs (tracking: in the config)
# The default profile (workflow/profiles/default) sets the cores; configs/config.yaml holds the grids.

configfile: "configs/config.yaml"


# Image for data and report jobs under --use-singularity; each train job uses its model's image instead.
container: "docker://sumbench/seq2seq:0.1.0"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/track.smk"


# The front page of the HTML report (snakemake <target> --report results/<grid>/report.html).
report: "workflow/report/workflow.rst"


# The full grid's report: the file users read.
rule all:
    input:
        grid_outputs("full"),
    default_target: True


# A small offline end-to-end run: tiny twins of three architectures on a synthetic corpus.
rule quick_test:
    input:
        grid_outputs("quick_test"),


# Augmentation and cap axes on a tiny BART: augmentation effect, learning curve, data statistics.
rule quick_aug:
    input:
        grid_outputs("quick_aug"),


# QLoRA (4-bit, bitsandbytes on CPU) beside plain LoRA on tiny causal twins.
rule quick_qlora:
    input:
        grid_outputs("quick_qlora"),
