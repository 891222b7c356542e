# Training in two phases. Speed and memory settle in a few dozen optimizer steps, quality does not; and quality
# depends on the effective batch, not on its bs x ga split (gradient accumulation is loss-equivalent, and each
# model's profile proves it). So: profile every split briefly, then train each effective batch once per fold.
#   warmstart (tiny twins only) -> profile (per model) -> plan (checkpoint, per grid) -> quality (per planned job)
# Profile and quality jobs run in the model's image under --use-singularity (container:) or runtime: docker.
# Their timed windows never share a device, whatever --cores says (sumbench.training.lease).


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
    priority: 2  # every warm start before any profile: the profiles' timed windows queue for the device anyway
    shell:
        "sumbench warmstart --model {wildcards.model} --models-dir {params.models_dir} --train {input.train} --out {output}"
        " --threads {threads} > {log} 2>&1"


# Profile phase, one job per model (loaded once): every bs x ga split briefly timed, OOM pruning, the
# gradient-accumulation equivalence check, and the costs the plan predicts the quality phase from.
rule profile:
    input:
        folds="results/{grid}/data/folds",
        base=base_model,
    output:
        "results/{grid}/profile/{model}.json",
    params:
        grid=grid_json,
        base=lambda w, input: f"--base {input.base}" if input.base else "",
        launch=launcher,
        models_dir=MODELS_DIR,
    log:
        "results/{grid}/logs/profile/{model}.log",
    threads: 1
    resources:
        gpu=scheduler_gpus,
        mem_mb=lambda w: SPECS[w.model].resources.mem_mb,
        runtime=lambda w: SPECS[w.model].resources.runtime,
    container:
        lambda w: SPECS[w.model].container
    shell:
        "{params.launch} profile --grid-json {params.grid:q} --model {wildcards.model} --data {input.folds}"
        " {params.base} --models-dir {params.models_dir} --threads {threads} --out {output} > {log} 2>&1"


# The plan, from every profile record of the grid: which cells the quality phase trains (each effective batch
# with its fastest split; every split if a model's GA check failed), the budget's trade-offs, predicted vs naive
# GPU-hours. A checkpoint: the quality jobs' inputs follow from it. Printed to the terminal before they start.
checkpoint plan:
    input:
        folds="results/{grid}/data/folds",
        profiles=lambda w: profile_records(w.grid),
    output:
        json="results/{grid}/plan.json",
        md="results/{grid}/plan.md",
    params:
        grid=grid_json,
        models_dir=MODELS_DIR,
    log:
        "results/{grid}/logs/plan.log",
    shell:
        "sumbench plan --grid-json {params.grid:q} --profiles {input.profiles} --data {input.folds}"
        " --models-dir {params.models_dir} --out {output.json} 2> {log} | tee -a {log}"


# Quality phase, one job per planned job (grid setting quality_jobs: one per model, or packed to fit a cluster's
# time limit): each of its cells trained to the end, evaluated, scored; its records land in
# runs/<model>/aug-<a>_cap-<c>/bs<B>_ga<G>/fold<K>/ as each cell finishes (a killed or retried job resumes there).
rule quality:
    input:
        plan="results/{grid}/plan.json",
        folds="results/{grid}/data/folds",
        base=base_model,
        train_sets=quality_train_sets,
    output:
        "results/{grid}/quality/{model}/job{job}.json",
    params:
        grid=grid_json,
        base=lambda w, input: f"--base {input.base}" if input.base else "",
        launch=launcher,
        models_dir=MODELS_DIR,
    log:
        "results/{grid}/logs/quality/{model}/job{job}.log",
    threads: 1
    priority: quality_priority
    resources:
        gpu=scheduler_gpus,
        mem_mb=lambda w: SPECS[w.model].resources.mem_mb,
        runtime=quality_runtime,
    container:
        lambda w: SPECS[w.model].container
    shell:
        "{params.launch} quality --grid-json {params.grid:q} --model {wildcards.model} --job {wildcards.job}"
        " --plan {input.plan}"
        " --data {input.folds} {params.base} --models-dir {params.models_dir} --threads {threads} --out {output}"
        " > {log} 2>&1"
