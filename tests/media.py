"""Small media files for tests, made here with PyAV."""
from pathlib import Path

import av
import numpy as np


def write_audio_only(path: Path) -> Path:
    """An AAC track in an mp4 container, with no video stream."""
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=44100)
        for i in range(10):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 44100, i * 1024
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def write_huge_y4m(path: Path) -> Path:
    """A YUV4MPEG2 file declaring a 16000x16000 frame (256 Mpixel), followed by a few bytes."""
    path.write_bytes(b"YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(4096))
    return path
