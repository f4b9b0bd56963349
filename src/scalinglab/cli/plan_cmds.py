"""CLI: ``scalinglab count``, ``plan`` and ``shape`` (accounting and planning, issue 3).

Every number printed or written states its convention: parameter counts say total /
embedding / non-embedding, FLOPs name their counting convention, plans say what N and C mean
(a ``conventions`` block in every JSON document). User errors raise
:class:`~scalinglab.errors.OptionError` / :class:`~scalinglab.errors.InputError`, which the
CLI's ``main`` prints as one line (exit status 2).
"""

from __future__ import annotations

import math
from numbers import Integral
from pathlib import Path
from typing import Annotated, Any

import typer

from scalinglab.cli.options import (
    Command,
    ComputeOpt,
    JsonOpt,
    check_json_dest,
    emit_json,
    parse_compute,
    start_json,
)
from scalinglab.console import Table, console, warn
from scalinglab.errors import OptionError

# ============================================================================ helpers


def _fmt(v: float | int | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, Integral) and not isinstance(v, bool):
        return f"{int(v):,}"
    f = float(v)
    if not math.isfinite(f):
        return "-"
    return f"{f:.5g}"


def _positive(value: float | None, option: str) -> None:
    """``OptionError`` naming ``option`` unless ``value`` is None or a positive finite number."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise OptionError(option, f"must be a positive finite number, got {value}")


# ============================================================================ count


def count_cmd(
    hf_config: Annotated[Path | None, typer.Option(
        "--hf-config", help="a Hugging Face config.json, or a folder holding one (gpt2, "
        "gpt_neox, llama, mistral, qwen2, qwen3, gemma, gemma2, phi3, mixtral, qwen2_moe, "
        "qwen3_moe, deepseek_v2, deepseek_v3; others through transformers when installed)")]
    = None,
    n_layer: Annotated[int | None, typer.Option(help="layers")] = None,
    d_model: Annotated[int | None, typer.Option(help="model width")] = None,
    n_head: Annotated[int | None, typer.Option(help="attention heads")] = None,
    n_kv_head: Annotated[int | None, typer.Option(help="key/value heads (GQA)")] = None,
    d_ff: Annotated[int | None, typer.Option(
        help="MLP width (default 4 d_model for gelu, Llama's 8/3 rule for swiglu)")] = None,
    vocab: Annotated[int | None, typer.Option(help="vocabulary (default 50257)")] = None,
    context: Annotated[int | None, typer.Option(help="context length (default 1024)")] = None,
    tied: Annotated[bool | None, typer.Option("--tied/--untied",
                                              help="output head tied to the embedding")] = None,
    mlp: Annotated[str | None, typer.Option(help="gelu | swiglu")] = None,
    positions: Annotated[str | None, typer.Option(
        help="learned | rotary | relative | none")] = None,
    norm: Annotated[str | None, typer.Option(help="layernorm | rmsnorm")] = None,
    bias: Annotated[bool | None, typer.Option("--bias/--no-bias", help="biases")] = None,
    n_expert: Annotated[int | None, typer.Option(help="MoE experts per layer")] = None,
    top_k: Annotated[int | None, typer.Option(help="MoE experts active per token")] = None,
    seq_len: Annotated[int | None, typer.Option(
        help="sequence length of the attention FLOP terms (default: the shape's context)")]
    = None,
    tokens: Annotated[float | None, typer.Option(
        help="training tokens: also report total training FLOPs")] = None,
    json_out: JsonOpt = None,
) -> None:
    """Exact parameter counts and FLOPs per token under every convention."""
    start_json(json_out)
    check_json_dest(json_out)
    from scalinglab.accounting import (
        FLOP_CONVENTIONS,
        ModelShape,
        all_flops_per_token,
        count_params,
        kaplan_approx_params,
    )
    from scalinglab.accounting.hf_config import read_hf_config

    given = {k: v for k, v in {
        "n_layer": n_layer, "d_model": d_model, "n_head": n_head, "n_kv_head": n_kv_head,
        "d_ff": d_ff, "vocab": vocab, "context": context, "tied": tied, "mlp": mlp,
        "positions": positions, "norm": norm, "bias": bias, "n_expert": n_expert,
        "top_k": top_k}.items() if v is not None}
    if hf_config is not None:
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise OptionError("--hf-config", f"give either --hf-config or the shape options, "
                              f"not both (also got {flags})")
        hf = read_hf_config(hf_config)
        shape, exact = hf.shape, hf.params
        source = str(hf_config)
    else:
        for req in ("n_layer", "d_model", "n_head"):
            if req not in given:
                raise OptionError("--" + req.replace("_", "-"),
                                  "required (or give --hf-config CONFIG.json)")
        shape = ModelShape(**given)
        hf, exact = None, None
        source = "options"
    if seq_len is not None and seq_len < 1:
        raise OptionError("--seq-len", f"must be >= 1, got {seq_len}")
    if tokens is not None and not (math.isfinite(tokens) and tokens > 0):
        raise OptionError("--tokens", f"must be a positive number, got {tokens}")
    T = shape.context if seq_len is None else seq_len
    pc = count_params(shape) if exact is None else exact
    flops = all_flops_per_token(shape, context=T, params=exact)

    t = Table(title=f"parameters: {shape.describe()}", title_justify="left")
    t.add_column("count")
    t.add_column("parameters", justify="right")
    t.add_column("convention")
    t.add_row("total", _fmt(pc.total), "every parameter (sum of numel)")
    t.add_row("embedding", _fmt(pc.embedding), "token table + position table + untied head")
    t.add_row("non-embedding", _fmt(pc.nonembedding), "blocks + final norm (Kaplan's N, exact)")
    t.add_row("non-embedding + head", _fmt(pc.with_head),
              "every matmul parameter (Porian; nanoGPT)")
    t.add_row("Kaplan approx.", _fmt(kaplan_approx_params(shape)), "2 d L (2 d_attn + d_ff)")
    if shape.n_expert > 1:
        t.add_row("active", _fmt(pc.active), f"top-{shape.top_k} of {shape.n_expert} experts")
        t.add_row("active non-embedding", _fmt(pc.active_nonembedding), "")
    console.print(t)
    f = Table(title=f"FLOPs per token (seq_len {T}; MoE: active parameters)",
              title_justify="left")
    f.add_column("convention")
    f.add_column("training", justify="right")
    f.add_column("inference", justify="right")
    if tokens is not None:
        f.add_column(f"training x {tokens:.3g} tokens", justify="right")
    f.add_column("definition")
    for c, v in flops.items():
        row = [c, _fmt(v["training"]), _fmt(v["inference"])]
        if tokens is not None:
            row.append(_fmt(v["training"] * tokens))
        f.add_row(*row, FLOP_CONVENTIONS[c])
    console.print(f)
    if json_out:
        doc: dict[str, Any] = {
            "source": source,
            "shape": shape.resolved().to_dict(),
            "params_total": pc.total,
            "params_embedding": pc.embedding,
            "params_nonembedding": pc.nonembedding,
            "params_with_head": pc.with_head,
            "params_active": pc.active,
            "params_active_nonembedding": pc.active_nonembedding,
            "params_kaplan_approx": kaplan_approx_params(shape),
            "seq_len": T,
            "flops_per_token": flops,
            "conventions": {
                "params_total": "every parameter (sum of numel; a tied head counted once)",
                "params_embedding": "token table + learned position table + untied output head",
                "params_nonembedding": "everything else: blocks (attention, MLP/experts, "
                                       "norms, biases) + final norm (Kaplan's N, exact)",
                "params_with_head": "non-embedding + output projection (Porian et al.; "
                                    "nanoGPT get_num_params)",
                "params_active": "total with top_k of n_expert experts per MoE layer",
                "params_kaplan_approx": "Kaplan et al.: 2 d_model n_layer (2 d_attn + d_ff)",
                "flops_per_token": dict(FLOP_CONVENTIONS),
                "training": "forward + backward = 3 x forward",
                "inference": "one forward pass per token",
            },
        }
        if tokens is not None:
            doc["tokens"] = tokens
            doc["training_flops"] = {c: v["training"] * tokens for c, v in flops.items()}
        if hf is not None:  # what the shape leaves out of an exact count, if anything
            doc["model_type"], doc["shape_exact"] = hf.model_type, hf.exact_shape
            doc["notes"] = list(hf.notes)
        emit_json(json_out, doc)


# ============================================================================ plan


def _quantity_table(title: str, rows: list[tuple[str, str]], doc: dict[str, Any]) -> Table:
    """A (quantity, value, interval) table of ``doc``'s ``rows`` (label, key), the interval
    column only when the document has intervals (at its ``level``)."""
    iv, lvl = doc.get("intervals") or {}, doc.get("level")
    t = Table(title=title, title_justify="left")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    if iv:
        t.add_column(f"{lvl:.0%} interval", justify="right")
    for label, key in rows:
        r = [label, _fmt(doc.get(key))]
        if iv:
            lo, hi = iv.get(key, (None, None))
            r.append(f"{_fmt(lo)} - {_fmt(hi)}" if lo is not None else "")
        t.add_row(*r)
    return t


def _print_plan(doc: dict[str, Any]) -> None:
    conv = doc.get("conventions", {})
    rows = [("compute C (FLOPs)", "compute"), ("N_opt (parameters)", "N_opt"),
            ("D_opt (tokens)", "D_opt"), ("tokens per parameter", "tokens_per_param"),
            ("loss (nats/token)", "loss")]
    if "target_loss" in doc:
        rows.insert(0, ("target loss", "target_loss"))
    if "epochs" in doc:
        rows += [("unique tokens U", "unique_tokens"), ("epochs D/U", "epochs")]
    console.print(_quantity_table(f"compute-optimal plan ({doc['law']}, {doc['method']})",
                                  rows, doc))
    console.print(f"N: {conv.get('N', '')}; C: {conv.get('compute', '')}", highlight=False)
    band = doc.get("band")
    if band:
        n_lo, n_hi = band["N"]
        console.print(f"within {band['tolerance']:.2%} of the optimal loss (<= "
                      f"{band['loss_max']:.4f}) at this budget: N from {_fmt(n_lo)} to "
                      f"{_fmt(n_hi)}", highlight=False)


def _print_inference(doc: dict[str, Any]) -> None:
    inf = doc["inference"]
    ch = inf["chinchilla"]
    t = Table(title=f"inference-aware plan (Sardana et al.): loss {doc['loss']:.5g}, "
              f"{_fmt(inf['inference_tokens'])} inference tokens", title_justify="left")
    t.add_column("")
    t.add_column("inference-aware", justify="right")
    t.add_column("Chinchilla-optimal", justify="right")
    t.add_row("N (parameters)", _fmt(doc["N_opt"]), _fmt(ch["N_opt"]))
    t.add_row("D_train (tokens)", _fmt(doc["D_opt"]), _fmt(ch["D_opt"]))
    t.add_row("training FLOPs (6ND)", _fmt(inf["training_compute"]),
              _fmt(ch["training_compute"]))
    t.add_row("inference FLOPs (2N/token)", _fmt(inf["inference_compute"]),
              _fmt(ch["inference_compute"]))
    t.add_row("lifetime FLOPs", _fmt(inf["total_compute"]), _fmt(ch["total_compute"]))
    console.print(t)
    console.print(f"saving: {_fmt(doc['saving'])} FLOPs ({doc['saving_fraction']:.1%})",
                  highlight=False)


def _print_cost(cost: dict[str, Any]) -> None:
    msg = (f"cost on {cost['gpu']} ({cost['description']}, peak {cost['peak_flops']:.4g} "
           f"FLOP/s, MFU {cost['mfu']:.0%}): {_fmt(cost['gpu_hours'])} GPU-hours")
    if "cost" in cost:
        msg += f", {cost['cost']:,.0f} at {cost['price_per_hour']:g}/GPU-hour"
    if "days" in cost:
        msg += f", {cost['days']:.1f} days on {cost['n_gpus']} GPUs"
    console.print(msg, highlight=False)


def _print_table(rows: list[dict[str, Any]], law: str, ref: float) -> None:
    t = Table(title=f"compute-optimal allocation ({law}) vs Kaplan et al. (N non-embedding, "
              "C_min = C/2)", title_justify="left")
    for col in ("C (FLOPs)", f"C / {ref:.3g}", "N_opt", "D_opt", "D/N", "loss",
                "Kaplan N", "Kaplan D"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(_fmt(r["compute"]), _fmt(r["compute_ref_units"]), _fmt(r["N_opt"]),
                  _fmt(r["D_opt"]), _fmt(r["tokens_per_param"]), _fmt(r["loss"]),
                  _fmt(r.get("kaplan_N_nonembedding")), _fmt(r.get("kaplan_D")))
    console.print(t)


def _print_test_compute(doc: dict[str, Any]) -> None:
    if doc["law"] == "coverage":
        title = f"samples for coverage {doc['target']:g} ({doc['law']}, Brown et al. 2024)"
        rows = [("samples per problem k", "samples"), ("whole samples", "samples_whole"),
                ("coverage at whole samples", "coverage_at_whole"),
                ("FLOPs per sample", "flops_per_sample"),
                ("inference FLOPs per problem", "C_test"), ("problems (queries)", "queries"),
                ("inference FLOPs, all problems", "inference_compute")]
    else:
        title = (f"cheapest train/test-time split for score {doc['target']:g} "
                 f"({doc['law']}, Jones 2021)")
        rows = [("training FLOPs C_train", "C_train"), ("inference FLOPs per query C_test",
                                                         "C_test"),
                ("queries", "queries"), ("inference FLOPs, all queries", "inference_compute"),
                ("total FLOPs", "total_compute"), ("training share of total", "train_share"),
                ("exchange rate (decades of C_test per decade of C_train)", "exchange_rate"),
                ("C_test factor replaced by 10x C_train", "test_per_10x_train")]
    if not doc["reachable"]:
        console.print(f"{title}: not reachable: {doc.get('reason', '')}", highlight=False)
        rows = [r for r in rows if r[1] in ("exchange_rate", "test_per_10x_train")]
        if not rows:
            return
    console.print(_quantity_table(title, rows, doc))
    if doc.get("binding"):
        console.print(f"the optimum sits on the limit --{doc['binding'].replace('_', '-')}",
                      highlight=False)
    if doc.get("reachable_fraction") is not None and doc["reachable_fraction"] < 1:
        console.print(f"reachable for {doc['reachable_fraction']:.0%} of the bootstrap draws",
                      highlight=False)


def _test_compute_doc(pl: Any, fit_json: Path | None, *, target_score: float | None,
                      others: dict[str, Any], **limits: Any) -> dict[str, Any]:
    """``plan --test-compute``: the options that belong to other plans refused, then
    :func:`~scalinglab.plan.document.test_compute_document` (which checks the rest)."""
    from scalinglab.errors import ParameterError
    from scalinglab.plan.document import test_compute_document

    for flag, value in others.items():
        if value is not None:
            raise OptionError(flag, f"does not apply to --test-compute (a train-test or "
                              f"coverage plan); leave {flag} out")
    if target_score is None:
        raise OptionError("--target-score", "--test-compute needs --target-score: the score "
                          "(train-test law) or coverage (coverage law) to reach")
    try:
        return test_compute_document(pl, target_score, **limits)
    except ParameterError as exc:
        if exc.parameter == "pl":  # the law came from --fit or --law
            raise OptionError("--fit" if fit_json is not None else "--law",
                              exc.detail) from None
        raise


def plan_cmd(
    law: Annotated[str | None, typer.Option(
        help="law name (default chinchilla; a --fit carries its own)")] = None,
    params: Annotated[str | None, typer.Option(
        help="NAME=VALUE,... or a published set: hoffmann, hoffmann-rounded, epoch, "
        "muennighoff, kaplan")] = None,
    fit_json: Annotated[Path | None, typer.Option(
        "--fit", help="a fit JSON from scalinglab fit --json (intervals from its draws)")]
    = None,
    compute: ComputeOpt = None,
    target_loss: Annotated[float | None, typer.Option(
        help="the least compute reaching this loss")] = None,
    target_params: Annotated[float | None, typer.Option(
        help="the budget whose compute-optimal model has this many parameters")] = None,
    inference_tokens: Annotated[float | None, typer.Option(
        help="lifetime inference tokens: Sardana et al.'s inference-aware plan")] = None,
    inference_cost_ratio: Annotated[float, typer.Option(
        help="cost of an inference FLOP relative to a training FLOP")] = 1.0,
    unique_tokens: Annotated[float | None, typer.Option(
        help="unique tokens U: Muennighoff et al.'s data-constrained plan")] = None,
    tolerance: Annotated[float, typer.Option(
        help="report the N range within this relative loss of the optimum")] = 0.01,
    level: Annotated[float | None, typer.Option(
        "--confidence", help="interval level, in (0, 1) (default: the fit's, else 0.8)")]
    = None,
    gpu: Annotated[str | None, typer.Option(
        help="accelerator for the cost: h100, h100-pcie, h200, a100")] = None,
    peak_tflops: Annotated[float | None, typer.Option(
        help="custom dense peak in TFLOP/s (instead of --gpu)")] = None,
    mfu: Annotated[float, typer.Option(help="assumed model FLOPs utilisation")] = 0.4,
    price: Annotated[float | None, typer.Option(help="price per GPU-hour")] = None,
    n_gpus: Annotated[int | None, typer.Option(help="GPUs, for wall-clock days")] = None,
    reference_compute: Annotated[float, typer.Option(
        help="reference budget of the table's 'C in units' column (Gopher 5.76e23)")]
    = 5.76e23,
    test_compute: Annotated[bool, typer.Option(
        "--test-compute", help="the cheapest split of training and test-time compute for "
        "--target-score under a train-test fit (Jones 2021), or the samples for a target "
        "coverage under a coverage fit (Brown et al. 2024)")] = False,
    target_score: Annotated[float | None, typer.Option(
        help="with --test-compute: the score (train-test) or coverage (coverage) to reach")]
    = None,
    queries: Annotated[float, typer.Option(
        help="with --test-compute: queries served (problems, for coverage); inference FLOPs "
        "are paid per query")] = 1.0,
    c_test_min: Annotated[float | None, typer.Option(
        help="with --test-compute: least inference FLOPs per query (one sample, one node)")]
    = None,
    c_test_max: Annotated[float | None, typer.Option(
        help="with --test-compute: most inference FLOPs per query (latency)")] = None,
    c_train_max: Annotated[float | None, typer.Option(
        help="with --test-compute: most training FLOPs")] = None,
    budget: Annotated[float | None, typer.Option(
        help="with --test-compute: most total FLOPs (training + queries x inference)")]
    = None,
    flops_per_sample: Annotated[float | None, typer.Option(
        help="with --test-compute and a coverage fit: inference FLOPs per sample")] = None,
    json_out: JsonOpt = None,
) -> None:
    """Compute-optimal N, D and loss for a budget (or the budget for a target loss).

    A published parameter set implies its law: --params kaplan plans with
    kaplan-nd, --params muennighoff with data-constrained. --test-compute plans the split of
    training and test-time compute (a train-test fit) or the samples for a coverage (a
    coverage fit).
    """
    start_json(json_out)
    check_json_dest(json_out)
    from scalinglab.plan import load_fit, plan_law
    from scalinglab.plan.document import plan_document

    if fit_json is not None and params is not None:
        raise OptionError("--fit", "give either --fit FIT.json or --params, not both")
    if fit_json is not None:
        pl = load_fit(fit_json)
        if law is not None and law != pl.law.name:
            raise OptionError("--law", f"--law {law} conflicts with the fit in {fit_json}, "
                              f"which is a {pl.law.name!r} fit")
    else:
        pl = plan_law(law, params)
    test_only = {"--target-score": target_score, "--c-test-min": c_test_min,
                 "--c-test-max": c_test_max, "--c-train-max": c_train_max, "--budget": budget,
                 "--flops-per-sample": flops_per_sample,
                 "--queries": None if queries == 1.0 else queries}
    if test_compute:
        doc = _test_compute_doc(
            pl, fit_json, target_score=target_score, queries=queries, c_test_min=c_test_min,
            c_test_max=c_test_max, c_train_max=c_train_max, budget=budget,
            flops_per_sample=flops_per_sample, level=level,
            others={"--compute": compute or None, "--target-loss": target_loss,
                    "--target-params": target_params, "--inference-tokens": inference_tokens,
                    "--unique-tokens": unique_tokens, "--gpu": gpu,
                    "--peak-tflops": peak_tflops, "--price": price, "--n-gpus": n_gpus})
        _print_test_compute(doc)
        for w in doc.get("warnings", []):
            warn(w)
        emit_json(json_out, doc)
        return
    given = [flag for flag, v in test_only.items() if v is not None]
    if given:
        raise OptionError(given[0], "applies only with --test-compute")
    doc = plan_document(
        pl, compute=parse_compute(compute), target_loss=target_loss,
        target_params=target_params, inference_tokens=inference_tokens,
        inference_cost_ratio=inference_cost_ratio, unique_tokens=unique_tokens,
        tolerance=tolerance, level=level, gpu=gpu, peak_tflops=peak_tflops, mfu=mfu,
        price=price, n_gpus=n_gpus, reference_compute=reference_compute)
    if doc["kind"] == "table":
        _print_table(doc["plans"], doc["law"], reference_compute)
    elif doc["kind"] == "inference":
        _print_inference(doc)
    else:
        _print_plan(doc)
    if "cost" in doc:
        _print_cost(doc["cost"])
    for w in doc.get("warnings", []):
        warn(w)
    emit_json(json_out, doc)


# ============================================================================ shape


def shape_cmd(
    target: Annotated[float, typer.Option(
        "--params", help="target parameter count (at most 1e15)")],
    count: Annotated[str, typer.Option(
        help="which count to match: total | nonembedding | active")] = "total",
    vocab: Annotated[int, typer.Option(help="vocabulary")] = 50257,
    context: Annotated[int, typer.Option(help="context length")] = 1024,
    tied: Annotated[bool, typer.Option("--tied/--untied", help="tied output head")] = True,
    mlp: Annotated[str, typer.Option(help="gelu | swiglu")] = "gelu",
    positions: Annotated[str, typer.Option(help="learned | rotary | relative | none")]
    = "learned",
    norm: Annotated[str, typer.Option(help="layernorm | rmsnorm")] = "layernorm",
    bias: Annotated[bool, typer.Option("--bias/--no-bias", help="biases")] = True,
    head_dim: Annotated[int, typer.Option(help="head dimension")] = 64,
    multiple: Annotated[int, typer.Option(help="d_model is a multiple of this")] = 64,
    aspect_min: Annotated[float, typer.Option(help="least d_model / n_layer")] = 32.0,
    aspect_max: Annotated[float, typer.Option(help="largest d_model / n_layer")] = 128.0,
    top: Annotated[int, typer.Option(help="how many shapes to list")] = 10,
    json_out: JsonOpt = None,
) -> None:
    """Buildable shapes (d_model a multiple of 64, heads dividing it) closest to a target N."""
    start_json(json_out)
    _positive(aspect_min, "--aspect-min")
    if not (math.isfinite(aspect_max) and aspect_max >= aspect_min):
        raise OptionError("--aspect-max", f"must be a finite number >= --aspect-min "
                          f"({aspect_min:g}), got {aspect_max}")
    check_json_dest(json_out)
    from scalinglab.accounting import ModelShape
    from scalinglab.accounting.shapes_search import search_shapes

    tmpl = ModelShape(n_layer=1, d_model=head_dim, n_head=1, vocab=vocab, context=context,
                      tied=tied, mlp=mlp, positions=positions, norm=norm, bias=bias)
    found = search_shapes(target, template=tmpl, count=count,  # type: ignore[arg-type]
                          multiple=multiple, head_dim=head_dim,
                          aspect_range=(aspect_min, aspect_max), top=top)
    t = Table(title=f"shapes for {target:.4g} parameters ({count}); vocab {vocab}, context "
              f"{context}, {mlp}, {'tied' if tied else 'untied'}", title_justify="left")
    for col in ("n_layer", "d_model", "n_head", "d_ff", "d/L", "total", "non-embedding",
                "error"):
        t.add_column(col, justify="right")
    for c in found:
        t.add_row(str(c.shape.n_layer), str(c.shape.d_model), str(c.shape.n_head),
                  str(c.shape.ffn_dim), f"{c.aspect_ratio:.1f}", _fmt(c.params.total),
                  _fmt(c.params.nonembedding), f"{c.rel_error:+.2%}")
    console.print(t)
    if json_out:
        emit_json(json_out, {
            "target": target, "count": count, "template": tmpl.to_dict(),
            "shapes": [c.to_dict() for c in found],
            "conventions": {"params_total": "every parameter", "params_nonembedding":
                            "blocks + final norm", "rel_error": f"(params_{count} - target) / "
                            "target", "aspect_ratio": "d_model / n_layer"},
        })


def register(app: typer.Typer) -> None:
    """Add ``count``, ``plan`` and ``shape`` to the app."""
    app.command("count", cls=Command)(count_cmd)
    app.command("plan", cls=Command)(plan_cmd)
    app.command("shape", cls=Command)(shape_cmd)
