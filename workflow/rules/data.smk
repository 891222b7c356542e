# Data: a synthetic corpus (offline grids), the seeded k-fold split, and per-fold caps/augmentation.
# Dev never enters training.


# A deterministic synthetic Korean dialogue corpus for grids whose data is `synth`.
rule synth_data:
    output:
        train="results/{grid}/data/source/train.csv",
        dev="results/{grid}/data/source/dev.csv",
    params:
        n=lambda w: GRIDS[w.grid].synth["n"],
        dev_n=lambda w: GRIDS[w.grid].synth.get("dev_n", max(20, GRIDS[w.grid].synth["n"] // 10)),
        seed=lambda w: GRIDS[w.grid].synth.get("seed", 0),
        out=lambda w, output: Path(output.train).parent,
    log:
        "results/{grid}/logs/synth_data.log",
    priority: 3  # seconds of work that every later job waits for
    shell:
        "sumbench data synth --n {params.n} --dev-n {params.dev_n} --seed {params.seed} --out {params.out} > {log} 2>&1"


# Validated fold files: folds/fold<K>/train.csv, folds/fold<K>/heldout.csv and folds/dev.csv.
rule split_folds:
    input:
        train=source_csv("train"),
        dev=source_csv("dev"),
    output:
        directory("results/{grid}/data/folds"),
    params:
        k=lambda w: GRIDS[w.grid].k_folds,
        seed=lambda w: GRIDS[w.grid].seed,
    log:
        "results/{grid}/logs/split_folds.log",
    priority: 3
    shell:
        "sumbench data split --train {input.train} --dev {input.dev} --k {params.k} --seed {params.seed}"
        " --out {output} > {log} 2>&1"


# One fold's training part, capped (original examples first, seeded by the grid) and augmented: the cells of every
# batch size and grad accumulation at this (augmentation, cap, fold) train on this train.csv; augment.json says how.
rule augment:
    input:
        folds="results/{grid}/data/folds",
    output:
        train="results/{grid}/data/train/aug-{aug}_cap-{cap}/fold{fold}/train.csv",
        info="results/{grid}/data/train/aug-{aug}_cap-{cap}/fold{fold}/augment.json",
    params:
        # --seed, --max-train-samples, and --settings: the grid's whole `augment:` section as one JSON string
        options=lambda w: GRIDS[w.grid].augment_options(w.cap),
        out=lambda w, output: Path(output.train).parent,
    log:
        "results/{grid}/logs/augment/aug-{aug}_cap-{cap}_fold{fold}.log",
    threads: 1
    shell:
        "sumbench data augment --data {input.folds} --fold {wildcards.fold} --augmentation {wildcards.aug}"
        " {params.options:q} --threads {threads} --out {params.out} > {log} 2>&1"
