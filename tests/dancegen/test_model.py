"""GCDanceDenoiser, its layers and ModelConfig."""

import json

import pytest
import torch

from dancegen.errors import DancegenError
from dancegen.model import PRESETS, GCDanceDenoiser, ModelConfig, MotionNormalizer
from dancegen.model.layers import Attention, apply_rotary, rotary_cos_sin

#: Exact trainable-parameter counts of the presets (music_dim 705, genre_dim 512).
EXPECTED_PARAMS = {"paper": 87_636_351, "small": 2_825_855, "tiny": 192_319}


def _inputs(cfg, b=2, n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, n, 319, generator=g), torch.randint(0, 1000, (b,), generator=g),
            torch.randn(b, n, cfg.music_dim, generator=g), torch.randn(b, cfg.genre_dim, generator=g))


def _model(seed=0, **overrides):
    torch.manual_seed(seed)
    return GCDanceDenoiser(ModelConfig.preset("tiny", **overrides)).eval()


@pytest.mark.parametrize("name", ["paper", "small", "tiny"])
def test_parameter_counts(name):
    model = GCDanceDenoiser(ModelConfig.preset(name))
    n = model.num_parameters()
    print(f"{name}: {n:,} parameters")
    assert n == EXPECTED_PARAMS[name]
    if name == "paper":
        assert 85e6 < n < 91e6  # the paper reports ≈ 88M


@pytest.mark.parametrize("name", ["small", "tiny"])
def test_output_shape_per_preset(name):
    torch.manual_seed(0)
    model = GCDanceDenoiser(ModelConfig.preset(name)).eval()
    x, t, music, genre = _inputs(model.config, n=20)
    with torch.no_grad():
        assert model(x, t, music, genre).shape == (2, 20, 319)


@pytest.mark.parametrize(("music_dim", "genre_dim"), [(35, 384), (1, 1), (4800, 768)])
def test_any_music_and_genre_dims(music_dim, genre_dim):
    model = _model(music_dim=music_dim, genre_dim=genre_dim)
    x, t, music, genre = _inputs(model.config, b=3, n=7)
    with torch.no_grad():
        assert model(x, t, music, genre).shape == (3, 7, 319)
    with pytest.raises(DancegenError, match="music features"):
        model(x, t, torch.zeros(3, 7, music_dim + 1), genre)
    with pytest.raises(DancegenError, match="genre embedding"):
        model(x, t, music, torch.zeros(3, genre_dim + 1))


def test_bad_inputs_raise_clear_errors():
    model = _model()
    x, t, music, genre = _inputs(model.config)
    with pytest.raises(DancegenError, match="319"):
        model(x[..., :318], t, music, genre)
    big = model.config.seq_len + 1
    with pytest.raises(DancegenError, match="seq_len"):
        model(torch.zeros(1, big, 319), t[:1], torch.zeros(1, big, 705), genre[:1])
    with pytest.raises(DancegenError, match="timesteps"):
        model(x, t[:1], music, genre)
    with pytest.raises(DancegenError):
        ModelConfig.preset("huge")
    with pytest.raises(DancegenError):
        ModelConfig(width=30, heads=4)


def test_cfg_drop_uses_learned_null():
    model = _model()
    x, t, music, genre = _inputs(model.config)
    with torch.no_grad():
        cond = model(x, t, music, genre)
        dropped = model(x, t, music, genre, drop_music_mask=torch.ones(2, dtype=torch.bool))
        all_dropped = torch.ones(2, dtype=torch.bool)
        dropped_other_music = model(x, t, torch.randn_like(music), genre, drop_music_mask=all_dropped)
        half = model(x, t, music, genre, drop_music_mask=torch.tensor([True, False]))
    assert not torch.allclose(cond, dropped)
    torch.testing.assert_close(dropped, dropped_other_music)  # music is ignored once dropped
    torch.testing.assert_close(half[0], dropped[0])
    torch.testing.assert_close(half[1], cond[1])
    # the null embeddings are what the dropped branch reads: changing them changes the output
    with torch.no_grad():
        model.body.null_cond_tokens.add_(1.0)
        assert not torch.allclose(model(x, t, music, genre, drop_music_mask=torch.ones(2, dtype=torch.bool)), dropped)
    # genre still matters when music is dropped (only music is dropped)
    with torch.no_grad():
        other_genre = model(x, t, music, torch.randn_like(genre), drop_music_mask=torch.ones(2, dtype=torch.bool))
    assert not torch.allclose(other_genre, dropped)


def test_training_mode_drops_with_cond_drop_prob():
    model = _model(cond_drop_prob=1.0, dropout=0.0).train()
    x, t, music, genre = _inputs(model.config)
    with torch.no_grad():
        always_dropped = model(x, t, music, genre)
        model.eval()
        explicit = model(x, t, music, genre, drop_music_mask=torch.ones(2, dtype=torch.bool))
    torch.testing.assert_close(always_dropped, explicit)


def test_guided_forward_equals_manual_combination():
    model = _model()
    x, t, music, genre = _inputs(model.config, b=3)
    w = 2.7
    with torch.no_grad():
        guided = model.guided_forward(x, t, music, genre, w)
        cond = model(x, t, music, genre, drop_music_mask=torch.zeros(3, dtype=torch.bool))
        uncond = model(x, t, music, genre, drop_music_mask=torch.ones(3, dtype=torch.bool))
    torch.testing.assert_close(guided, uncond + w * (cond - uncond), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(guided, w * cond + (1 - w) * uncond, atol=1e-5, rtol=1e-5)


def test_rotary_matches_complex_definition_and_is_relative():
    d, base = 8, 10000.0
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, d, generator=g, dtype=torch.float64)
    pos = torch.arange(5)
    cos, sin = rotary_cos_sin(pos, d, base, dtype=torch.float64)
    rotated = apply_rotary(x, cos, sin)
    # definition: pair (2i, 2i+1) as a complex number times exp(i · p · base^(−2i/d))
    z = torch.view_as_complex(x.view(5, d // 2, 2).contiguous())
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    expected = torch.view_as_real(z * torch.exp(1j * pos[:, None].double() * theta[None, :])).reshape(5, d)
    torch.testing.assert_close(rotated, expected)
    # relative: <R(m) q, R(n) k> depends on m − n only
    q, k = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)
    c, s = rotary_cos_sin(torch.arange(40), d, base, dtype=torch.float64)

    def dot(m, n):
        return (apply_rotary(q, c[m], s[m]) * apply_rotary(k, c[n], s[n])).sum()

    torch.testing.assert_close(dot(3, 1), dot(23, 21))
    torch.testing.assert_close(dot(0, 7), dot(30, 37))


def test_self_attention_is_shift_equivariant():
    # RoPE makes attention scores depend on relative positions only: giving every token the position p + 17
    # instead of p leaves the output unchanged (absolute position embeddings would change it).
    torch.manual_seed(0)
    attn = Attention(16, 2, 0.0, cross=False).eval().double()
    x = torch.randn(1, 10, 16, dtype=torch.float64)
    cos, sin = rotary_cos_sin(torch.arange(10), 8, dtype=torch.float64)
    cos_s, sin_s = rotary_cos_sin(torch.arange(10) + 17, 8, dtype=torch.float64)
    with torch.no_grad():
        a = attn(x, None, (cos, sin), (cos, sin))
        b = attn(x, None, (cos_s, sin_s), (cos_s, sin_s))  # every position shifted by 17
    torch.testing.assert_close(a, b)


def test_deterministic_in_eval_mode_with_seed():
    x, t, music, genre = _inputs(ModelConfig.preset("tiny"))
    with torch.no_grad():
        a = _model(seed=5)(x, t, music, genre)
        b = _model(seed=5)(x, t, music, genre)
        c = _model(seed=6)(x, t, music, genre)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_gradient_reaches_all_parameters():
    model = _model(dropout=0.0).train()
    x, t, music, genre = _inputs(model.config, b=4)
    drop = torch.tensor([True, False, True, False])  # both the null and the music branch are used
    model(x, t, music, genre, drop_music_mask=drop).pow(2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
               or p.grad.abs().sum() == 0]
    assert missing == []


def test_config_json_round_trip():
    cfg = ModelConfig.preset("small", music_dim=35, dropout=0.0)
    assert cfg.width == 128
    assert cfg.music_dim == 35
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    with pytest.raises(DancegenError, match="unknown"):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    assert set(PRESETS) == {"paper", "small", "tiny"}


def test_normalizer_round_trip_and_contacts():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(6, 10, 319, generator=g) * 3 + 1
    data[..., :4] = (data[..., :4] > 1).float()
    data[..., 50] = 2.0  # a constant channel
    for mode in ("minmax", "standard", "none"):
        norm = MotionNormalizer.fit(data, mode=mode)
        z = norm.normalize(data)
        torch.testing.assert_close(z[..., :4], data[..., :4])
        torch.testing.assert_close(norm.unnormalize(z), data, atol=1e-5, rtol=1e-5)
        assert torch.isfinite(z).all()
        if mode == "minmax":
            assert z.min() >= -1 - 1e-6
            assert z.max() <= 1 + 1e-6
        if mode == "none":  # the published code's (no normalisation): the identity
            torch.testing.assert_close(z, data, rtol=0, atol=0)
        state = norm.state_dict()
        loaded = MotionNormalizer(mode="minmax")
        loaded.load_state_dict(state)
        assert loaded.mode == mode
        torch.testing.assert_close(loaded.normalize(data), z)
    with pytest.raises(DancegenError):
        MotionNormalizer.fit(torch.zeros(0, 319))
    with pytest.raises(DancegenError):
        MotionNormalizer(mode="zscore")


# ---------------------------------------------------------------------------------------------- cached condition
#: The cached path projects the memory's time tokens apart from its condition tokens (another GEMM shape), so it
#: matches the uncached one up to float rounding, not bit for bit.
CACHE_ATOL = 1e-5


@pytest.mark.parametrize(("seed", "overrides", "b", "n"), [
    (0, {}, 2, 12),
    (1, {"width": 48, "layers": 2, "heads": 3, "ff": 40, "music_dim": 9, "genre_dim": 5}, 3, 7),
    (2, {"width": 64, "layers": 3, "heads": 4, "ff": 96, "seq_len": 16, "hand_music_dim": 4}, 1, 16),
    (3, {"layers": 2, "music_dim": 1, "genre_dim": 1}, 4, 1),
])
def test_prepared_condition_matches_raw_guided_forward(seed, overrides, b, n):
    model = _model(seed, **overrides)
    x, t, music, genre = _inputs(model.config, b=b, n=n, seed=seed)
    with torch.no_grad():
        cond = model.prepare_condition(music, genre)
        assert (cond.rows, cond.frames, cond.guided) == (2 * b, n, True)
        for w in (1.0, 2.7):
            ref = model.guided_forward(x, t, music, genre, w)
            out = model.guided_forward(x, t, cond, None, w)
            assert out.shape == ref.shape
            assert (out - ref).abs().max().item() < CACHE_ATOL
        # the CFG batch itself: cond and uncond halves of the one 2B forward
        drop = torch.arange(2 * b) >= b
        ref2 = model(x.repeat(2, 1, 1), t.repeat(2), music.repeat(2, 1, 1), genre.repeat(2, 1), drop)
        out2 = model._cached_forward(x.repeat(2, 1, 1), t.repeat(2), cond)
        assert (out2 - ref2).abs().max().item() < CACHE_ATOL


@pytest.mark.parametrize("mask", [None, [True, False, True], [False, False, False], [True, True, True]])
def test_prepared_condition_in_forward_with_drop_masks(mask):
    model = _model(5, layers=2)
    x, t, music, genre = _inputs(model.config, b=3, n=9, seed=5)
    drop = None if mask is None else torch.tensor(mask)
    with torch.no_grad():
        cond = model.prepare_condition(music, genre)
        ref = model(x, t, music, genre, drop_music_mask=drop)
        out = model(x, t, cond, drop_music_mask=drop)
    assert (out - ref).abs().max().item() < CACHE_ATOL


def test_prepared_condition_reused_across_steps_and_errors():
    model = _model(6)
    x, _, music, genre = _inputs(model.config, b=2, n=10, seed=6)
    with torch.no_grad():
        cond = model.prepare_condition(music, genre)
        for step in (999, 500, 3, 0):  # one condition, many timesteps and inputs
            t = torch.full((2,), step)
            xs = x * (step + 1) / 1000
            ref = model.guided_forward(xs, t, music, genre, 2.0)
            assert (model.guided_forward(xs, t, cond, None, 2.0) - ref).abs().max().item() < CACHE_ATOL
        with pytest.raises(DancegenError, match="not both"):
            model.guided_forward(x, t, cond, genre, 2.0)
        with pytest.raises(DancegenError, match="prepare_condition for 1"):
            model.guided_forward(x[:1], t[:1], cond, None, 2.0)
        with pytest.raises(DancegenError, match="x_t must be"):
            model.guided_forward(x[:, :5], t, cond, None, 2.0)
        with pytest.raises(DancegenError, match="genre_embedding is required"):
            model.guided_forward(x, t, music, None, 2.0)
        with pytest.raises(DancegenError, match="music features"):
            model.prepare_condition(music[..., :3], genre)


def test_training_forward_unchanged_by_caching_code():
    # the raw-tensor path (training) still runs the original expert forward: cached and raw agree in train mode
    # with dropout off when the same drop mask is used, and gradients flow through the cached path too
    model = _model(7, dropout=0.0).train()
    x, t, music, genre = _inputs(model.config, b=2, n=8, seed=7)
    drop = torch.tensor([False, True])
    ref = model(x, t, music, genre, drop_music_mask=drop)
    out = model(x, t, model.prepare_condition(music, genre), drop_music_mask=drop)
    assert (out - ref).abs().max().item() < CACHE_ATOL
    out.sum().backward()
    assert model.body.cond_adapter[0].weight.grad is not None
