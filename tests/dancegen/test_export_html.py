"""dance.html: a self-contained page, checked as text and then played in headless Chromium (DevTools protocol).

Chromium is Debian's ``/usr/bin/chromium`` (``scripts/install_chromium.sh`` installs it); the browser tests skip with
a reason only when no Chromium can be found.
"""

from __future__ import annotations

import base64
import json
import re
import time

import numpy as np
import pytest
import torch

from dancegen.errors import DancegenError
from dancegen.export import render_html, write_html
from dancegen.motion import Skeleton, axis_angle_to_rot6d, forward_kinematics

SR = 15360
FRAMES = 150  # 5 s


def make_dance(frames: int = FRAMES) -> np.ndarray:
    t = np.arange(frames)[:, None, None] / 30.0
    rng = np.random.default_rng(3)
    aa = rng.normal(0, 0.4, (52, 3)) * np.sin(2 * np.pi * rng.uniform(0.3, 1.2, (52, 3)) * t)
    motion = np.zeros((frames, 319), dtype=np.float32)
    motion[:, 7:] = axis_angle_to_rot6d(torch.tensor(aa, dtype=torch.float32)).reshape(frames, -1).numpy()
    motion[:, 4] = 0.3 * np.sin(t[:, 0, 0])
    motion[:, 5] = 1.28
    return motion


def make_music(seconds: float) -> np.ndarray:
    n = int(seconds * SR)
    t = np.arange(n) / SR
    beat = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(np.float32)
    return (0.2 * np.sin(2 * np.pi * 330 * t) + 0.3 * beat * np.sin(2 * np.pi * 80 * t)).astype(np.float32)


def payload(page: str) -> dict:
    return json.loads(re.search(r'<script id="dance-data" type="application/json">(.*?)</script>', page, re.S)[1])


# ------------------------------------------------------------------------------------------- the page as text


def test_page_is_self_contained_and_embeds_joints_and_music():
    motion = make_dance(60)
    page = render_html(motion, make_music(2.0), SR, genre="Jazz", text="This is a Jazz type of music.")
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page)  # every resource is a data: URI
    assert "http://" not in page
    assert "https://" not in page
    assert re.search(r'<audio id="audio" preload="auto" src="data:audio/ogg;base64,', page)
    data = payload(page)
    assert data["frames"] == 60
    assert data["fps"] == 30
    assert data["has_audio"] is True
    joints = np.frombuffer(base64.b64decode(data["positions"]), dtype="<f4").reshape(60, 55, 3)
    with torch.no_grad():
        expected = forward_kinematics(torch.from_numpy(motion), Skeleton.default()).numpy()
    np.testing.assert_allclose(joints, expected, atol=1e-6)
    assert data["genre"] == "Jazz"
    assert data["text"] == "This is a Jazz type of music."


def test_text_cannot_break_out_of_the_page(tmp_path):
    nasty = "</script><script>alert(1)</script>"
    path = write_html(tmp_path / "dance.html", make_dance(10), text=nasty)
    page = path.read_text()
    assert page.count("</script>") == 2  # the data block and the player
    assert payload(page)["text"] == nasty
    assert 'preload="auto" >' in page  # no audio: no src


def test_wav_audio_and_bad_format():
    page = render_html(make_dance(30), make_music(1.0), SR, audio_format="wav")
    assert 'src="data:audio/wav;base64,' in page
    with pytest.raises(DancegenError, match="unknown audio format 'mp3'"):
        render_html(make_dance(30), make_music(1.0), SR, audio_format="mp3")


# ------------------------------------------------------------------------------------------ headless Chromium


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium("--autoplay-policy=no-user-gesture-required")


# Read inside an animation-frame callback: the player's own callback (registered earlier) has just drawn the frame.
STATE = (
    "new Promise(r => requestAnimationFrame(() => r(JSON.stringify({f: dancePlayer.frame, "
    "t: document.getElementById('audio').currentTime, p: dancePlayer.playing, a: dancePlayer.usesAudioClock, "
    "c: dancePlayer.currentTime}))))"
)


def state(browser) -> dict:
    return json.loads(browser.js(STATE, await_promise=True))


def test_player_follows_the_audio_clock(browser, tmp_path):
    path = write_html(tmp_path / "dance.html", make_dance(), make_music(FRAMES / 30), SR, genre="Popping",
                      text="This is a Popping type of music.")
    browser.errors.clear()
    browser.open(path.as_uri(), ready="typeof window.dancePlayer === 'object'")
    assert browser.js("document.getElementById('genre').textContent") == "Popping"
    assert browser.js("dancePlayer.frames") == FRAMES
    assert browser.js("dancePlayer.hasAudio") is True
    assert browser.js("dancePlayer.frame") == 0

    browser.js("dancePlayer.play()", await_promise=True)
    deadline = time.monotonic() + 10
    while state(browser)["f"] == 0:  # the audio may take a moment to start on a busy machine
        assert time.monotonic() < deadline, "the frame never advanced after play()"
        time.sleep(0.05)
    samples = []
    for _ in range(5):
        samples.append(state(browser))
        time.sleep(0.2)
    assert all(s["p"] and s["a"] for s in samples), samples  # playing, on the audio clock (no timer fallback)
    frames = [s["f"] for s in samples]
    assert frames == sorted(frames), samples
    assert frames[-1] > frames[0] > 0, samples
    for s in samples:  # the drawn frame is floor(audio.currentTime × 30), one animation frame late at most
        assert abs(s["f"] - int(s["t"] * 30)) <= 1, s

    # jump: the audio jumps with it and playback continues from there
    jumped = json.loads(browser.js("dancePlayer.seek(90); JSON.stringify({f: dancePlayer.frame, "
                                   "t: document.getElementById('audio').currentTime})"))
    assert jumped["f"] == 90, jumped
    assert abs(jumped["t"] - 3.0) < 1e-6, jumped
    time.sleep(0.3)
    later = state(browser)
    assert later["f"] > 90, later
    assert abs(later["f"] - int(later["t"] * 30)) <= 1, later

    browser.js("dancePlayer.pause()")
    paused = state(browser)
    time.sleep(0.3)
    assert state(browser)["f"] == paused["f"]
    assert not paused["p"]

    # scrubbing with the slider, as a user would
    browser.js("var s = document.getElementById('scrub'); s.value = '40'; s.dispatchEvent(new Event('input'));")
    scrubbed = state(browser)
    assert scrubbed["f"] == 40, scrubbed
    assert abs(scrubbed["t"] - 40 / 30) < 1e-6, scrubbed
    browser.js("dancePlayer.orbit(0.7, 0.1)")  # camera orbit redraws without errors
    assert browser.errors == []


def test_player_without_audio_uses_a_timer(browser, tmp_path):
    path = write_html(tmp_path / "silent.html", make_dance(), genre="Jazz")
    browser.errors.clear()
    browser.open(path.as_uri(), ready="typeof window.dancePlayer === 'object'")
    assert browser.js("dancePlayer.hasAudio") is False
    browser.js("dancePlayer.play()", await_promise=True)
    time.sleep(0.6)
    now = state(browser)
    assert now["p"]
    assert not now["a"]
    assert now["f"] >= 9, now
    assert abs(now["f"] - int(now["c"] * 30)) <= 1, now
    browser.js("dancePlayer.seek(149)")
    time.sleep(0.2)
    assert browser.js("dancePlayer.frame") == 149
    assert browser.js("dancePlayer.playing") is False
    assert browser.errors == []
