# Training: a warm start per tiny twin, then one job per grid cell.


# A tiny twin pre-trained once on a synthetic corpus (save_pretrained dir); the grid fine-tunes it like a hub model.
rule warmstart:
    input:
        train=source_csv("train"),
    output:
        directory("results/{grid}/base/{model}"),
    params:
        models_dir=MODELS_DIR,
    log:
        "results/{grid}/logs/warmstart/{model}.log",
    threads: 1
    shell:
        "sumbench warmstart --model {wildcards.model} --models-dir {params.models_dir} --train {input.train} --out {output}"
        " --threads {threads} > {log} 2>&1"


# One grid cell: metrics.json (typed record), train_log.jsonl (per optimizer step), predictions.jsonl.
# It runs in the model's image under --use-singularity (container:) or runtime: docker (params.launch).
rule train:
    input:
        folds="results/{grid}/data/folds",
        base=base_model,
        train_set=train_set_of,
    output:
        metrics="results/{grid}/runs/{model}/aug-{aug}_cap-{cap}/bs{bs}_ga{ga}/fold{fold}/metrics.json",
        train_log="results/{grid}/runs/{model}/aug-{aug}_cap-{cap}/bs{bs}_ga{ga}/fold{fold}/train_log.jsonl",
        predictions="results/{grid}/runs/{model}/aug-{aug}_cap-{cap}/bs{bs}_ga{ga}/fold{fold}/predictions.jsonl",
    params:
        out=lambda w, output: Path(output.metrics).parent,
        options=train_options,
        launch=launcher,
    log:
        "results/{grid}/logs/train/{model}/aug-{aug}_cap-{cap}/bs{bs}_ga{ga}_fold{fold}.log",
    threads: 1
    resources:
        gpu=lambda w: SPECS[w.model].resources.gpus,
        mem_mb=lambda w: SPECS[w.model].resources.mem_mb,
        runtime=lambda w: SPECS[w.model].resources.runtime,
    container:
        lambda w: SPECS[w.model].container
    shell:
        "{params.launch} train --model {wildcards.model} --batch-size {wildcards.bs} --grad-accum {wildcards.ga}"
        " --fold {wildcards.fold} --augmentation {wildcards.aug} --data {input.folds} --out {params.out}"
        " --threads {threads} {params.options} > {log} 2>&1"
