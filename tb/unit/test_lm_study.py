"""The LM study (issue 15): training through the hardware head, the statistics-matching
adaptation, the flow's checkpoints and resume, and the CLI's errors."""

import json

import numpy as np
import pytest
import torch

from flows.lm_study import study as study_mod
from flows.lm_study.adaptation import adapt_model, measure_stats, mismatch
from flows.lm_study.cli import main
from flows.lm_study.corpus import load_corpus
from flows.lm_study.model import CharLM, LMConfig
from flows.lm_study.report import write_report
from flows.lm_study.study import ROWS, StudySettings, row_config, run_study
from flows.lm_study.train import train
from hdl.config import HeadConfig

HEAD = HeadConfig().with_overrides(["array.head_dim=8", "array.tile_cols=8",
                                    "array.n_tiles=2", "timing.layers=1"])


@pytest.fixture(scope="module")
def corpus():
    return load_corpus("pydoc")


def _tiny(corpus, seed=0):
    torch.manual_seed(seed)
    return CharLM(LMConfig(vocab=corpus.vocab, context=32, n_layer=1, n_head=2, head_dim=8))


def _loss(model, x, y):
    with torch.no_grad():
        return model(x, y)[1].item()


def test_corpus_split_and_windows(corpus):
    assert corpus.vocab > 50 and len(corpus.val) > 40_000
    assert len(corpus.train) + len(corpus.val) > 460_000
    x, y = next(corpus.val_batches(1, 4, 16))
    assert torch.equal(x[:, 1:], y[:, :-1])
    text = "".join(corpus.chars[i] for i in x[0].tolist())
    import pydoc_data.topics as t
    assert text in "".join(t.topics[k] for k in sorted(t.topics))


def test_training_through_the_nonlinear_hardware_head_reduces_loss(corpus):
    torch.set_num_threads(1)
    model = _tiny(corpus)
    model.set_attention("hardware", cfg=row_config("finetuned", HEAD))
    assert model.attentions[0].hw.cfg.analog.nonlinearity
    assert model.attentions[0].hw.cfg.analog.quantization
    x, y = corpus.batch(np.random.default_rng(7), 16, 32)
    before = _loss(model, x, y)
    a_before = model.attentions[0].q_a.detach().clone()
    train(model, corpus, 40, lr=1e-2, batch=16, seed=0, log_every=20)
    after = _loss(model, x, y)
    assert after < before - 0.5, (before, after)
    # the gradient reached the scalers through the straight-through quantisers
    assert not torch.equal(model.attentions[0].q_a.detach(), a_before)


def test_adaptation_reduces_the_statistics_mismatch(corpus):
    torch.set_num_threads(1)
    model = _tiny(corpus, seed=1)
    model.set_attention("hardware", cfg=row_config("linear_quant", HEAD))
    with torch.no_grad():               # give the scalers something to undo
        for at in model.attentions:
            at.q_a.mul_(4.0)
            at.k_b.add_(0.1)
    x, y = corpus.batch(np.random.default_rng(3), 8, 32)
    targets, _ = measure_stats(model, x, y)
    model.set_attention("hardware", cfg=row_config("nonlinear", HEAD))
    model.reset_scalers()
    start = mismatch(measure_stats(model, x, y)[0], targets)
    res = adapt_model(model, targets, x, y, max_iter=60)
    end = mismatch(measure_stats(model, x, y)[0], targets)
    assert res["trace"][0]["mismatch"] == pytest.approx(start)
    assert end < start / 20 and end == pytest.approx(res["trace"][-1]["mismatch"])
    assert res["iterations"] >= 2 and res["trace"][0]["alpha"] == 1.0


def test_flow_checkpoints_and_resumes(tmp_path, monkeypatch):
    s = StudySettings(steps=4, batch=2, val_batches=1, calib_batch=2, var_seeds=2,
                      cfg=HeadConfig().with_overrides(
                          ["array.head_dim=16", "array.tile_cols=16", "array.n_tiles=4",
                           "timing.layers=2"]))
    real_train = study_mod.train
    trained = []

    def counting_train(model, corpus, steps, **kw):
        trained.append(kw["label"])
        if kw["label"] == "linear_quant" and len(trained) == 4:
            raise KeyboardInterrupt          # interrupted in the 4th row
        return real_train(model, corpus, steps, **kw)

    monkeypatch.setattr(study_mod, "train", counting_train)
    with pytest.raises(KeyboardInterrupt):
        run_study(s, tmp_path)
    saved = json.loads((tmp_path / "state" / "results.json").read_text())
    assert saved["done"] == ["softmax", "softmax_window", "linear_ideal"]
    trained.clear()
    res = run_study(s, tmp_path)
    assert trained == ["linear_quant", "finetuned"]      # the finished rows were not redone
    assert res["done"] == [k for k, _ in ROWS]
    assert res["rows"]["softmax"] == saved["rows"]["softmax"]
    var = res["rows"]["variability"]
    assert len(var["seeds"]) == 2 and var["bpc_min"] <= var["bpc"] <= var["bpc_max"]
    assert res["rows"]["adapted"]["adaptation"]["trace"]
    paths = write_report(res, tmp_path / "report")
    table = paths[1].read_text()
    assert all(label in table for _, label in ROWS) and "| +0.000 |" in table
    assert all(p.stat().st_size > 0 for p in paths)


@pytest.mark.parametrize("argv, message", [
    (["--size", "huge"], "argument --size: invalid choice: 'huge'"),
    (["--steps", "0"], "argument --steps: must be an integer ≥ 1, not 0"),
    (["--corpus", "nowhere.txt"], "corpus must be one of pydoc or a text file, not "
                                  "'nowhere.txt'"),
    (["--set", "array.head_dim=32"], "array.head_dim=32 must equal the model's head "
                                     "dimension 16"),
    (["--set", "analog.ir_drop=true"], "analog.ir_drop is not modelled by the torch head"),
])
def test_cli_errors_are_one_line(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) if argv[0] in ("--size", "--steps") else _nothing():
        rc = main(argv + ["--out", str(tmp_path / "o")])
        assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith(
        "python -m flows.lm_study: error: ")
    assert not (tmp_path / "o").exists()


def test_cli_refuses_a_file_as_out_folder(tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("x")
    assert main(["--out", str(f)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False
