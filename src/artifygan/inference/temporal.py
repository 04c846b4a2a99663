"""Temporal stability for video: tracked, smoothed faces and output flicker damping.

Why: a per-frame detector jitters by a pixel or two and misses a face now and then; each jitter moves
the aligned crop, and the generator answers a moved crop with a slightly different picture, so the face
"boils". Tracks smooth the landmarks (adaptive EMA: strong when the face is still, weak when it moves,
so smoothing never lags behind real motion) and survive a few missed detections. The deflicker filter
pulls each output pixel towards the previous output where the *input* pixel barely changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..faces import Face, iou

MAX_JUMP = 2.0  # face widths between frames that still count as the same face moving


@dataclass
class Track:
    id: int
    box: np.ndarray  # (4,)
    landmarks: np.ndarray  # (5, 2)
    score: float
    misses: int = 0

    def face(self) -> Face:
        x0, y0, x1, y1 = (float(v) for v in self.box)
        return Face((x0, y0, x1, y1), self.landmarks.copy(), self.score)


class FaceTracker:
    """Match detections to tracks by IoU; smooth each track's box and landmarks.

    ``smooth`` in [0, 1): weight of the previous position when the face is still (0 = no smoothing).
    ``max_misses``: frames a track is kept (at its last position) without a matching detection.
    """

    def __init__(self, smooth: float = 0.7, max_misses: int = 5, min_iou: float = 0.3) -> None:
        if not 0.0 <= smooth < 1.0:
            raise ValueError(f"smooth must be in [0, 1), got {smooth}")
        self.smooth, self.max_misses, self.min_iou = smooth, max_misses, min_iou
        self.tracks: list[Track] = []
        self._next_id = 0

    def update(self, faces: list[Face]) -> list[Face]:
        """Feed one frame's detections; returns the smoothed faces of live tracks, largest first."""
        unmatched = list(range(len(self.tracks)))
        jumped: list[tuple[np.ndarray, np.ndarray, float]] = []
        for f in faces:
            if f.landmarks is None:
                continue
            best, best_iou = None, self.min_iou
            for ti in unmatched:
                v = iou(tuple(self.tracks[ti].box), f.box)
                if v > best_iou:
                    best, best_iou = ti, v
            box, lm = np.asarray(f.box, np.float64), np.asarray(f.landmarks, np.float64)
            if best is None:
                jumped.append((box, lm, f.score))
                continue
            unmatched.remove(best)
            t = self.tracks[best]
            width = max(1.0, float(t.box[2] - t.box[0]))
            move = float(np.abs(lm - t.landmarks).mean()) / width  # motion, in face widths
            a = self.smooth * float(np.exp(-move / 0.1))  # still → smooth; moving → follow
            t.box = a * t.box + (1 - a) * box
            t.landmarks = a * t.landmarks + (1 - a) * lm
            t.score, t.misses = f.score, 0
        for box, lm, score in jumped:
            # a face that moved further than overlap can follow (a fast turn, a jump cut): the nearest track
            # left unmatched, of a like size, takes it as it is; a new track beside it would leave the old
            # one standing at the last position for max_misses frames (a ghost eye warp or backdrop cut)
            near = self._nearest(box, unmatched)
            if near is None:
                self.tracks.append(Track(self._next_id, box, lm, score))
                self._next_id += 1
                continue
            unmatched.remove(near)
            t = self.tracks[near]
            t.box, t.landmarks, t.score, t.misses = box, lm, score, 0
        for ti in unmatched:
            self.tracks[ti].misses += 1
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        return self.faces()

    def _nearest(self, box: np.ndarray, candidates: list[int]) -> int | None:
        """The candidate track within MAX_JUMP widths of ``box`` whose size is within 2× of it, nearest first."""
        w = float(box[2] - box[0])
        best, best_d = None, MAX_JUMP
        for ti in candidates:
            tb = self.tracks[ti].box
            tw = float(tb[2] - tb[0])
            if not (w > 0 and tw > 0 and 0.5 <= w / tw <= 2.0):
                continue
            d = float(np.hypot(box[0] + box[2] - tb[0] - tb[2], box[1] + box[3] - tb[1] - tb[3])) / 2 / max(w, tw)
            if d < best_d:
                best, best_d = ti, d
        return best

    def faces(self) -> list[Face]:
        """The live tracks' smoothed faces, largest first (what face mode's cap and paste order expect)."""
        return sorted((t.face() for t in self.tracks), key=lambda f: -f.width)


class Deflicker:
    """Recursive temporal filter on the output, gated by how much the input changed per pixel.

    ``strength`` in [0, 1): how far a still pixel stays at its previous output (0 = off). ``tau``: input
    change (0–255 levels of luma or either chroma, after a small blur that ignores sensor noise) at which
    gating fades: a change of colour alone (a red thing replaced by a green one of the same grey) is a
    change too. A scene cut (the mean change over the frame above ``cut``) starts afresh.
    """

    def __init__(self, strength: float = 0.6, tau: float = 6.0, cut: float = 30.0) -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"deflicker strength must be in [0, 1), got {strength}")
        self.strength, self.tau, self.cut = strength, tau, cut
        self.prev_in: np.ndarray | None = None
        self.prev_out: np.ndarray | None = None

    def __call__(self, frame_in: np.ndarray, frame_out: np.ndarray) -> np.ndarray:
        """uint8 RGB input and output frames (same size) → damped uint8 output."""
        ycc = cv2.GaussianBlur(cv2.cvtColor(frame_in, cv2.COLOR_RGB2YCrCb).astype(np.float32), (5, 5), 1.2)
        out = frame_out.astype(np.float32)
        if self.strength > 0 and self.prev_in is not None and self.prev_in.shape == ycc.shape:
            change = np.abs(ycc - self.prev_in).max(-1)
            if float(change.mean()) < self.cut:  # else a scene cut: nothing of the last scene is kept
                keep = self.strength * np.exp(-change / self.tau)[..., None]
                out = keep * self.prev_out + (1 - keep) * out
        self.prev_in, self.prev_out = ycc, out
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def flicker(frames_in: list[np.ndarray], frames_out: list[np.ndarray], still: float = 2.0) -> float:
    """Mean |out_t − out_{t−1}| over pixels whose input changed by less than ``still`` grey levels."""
    total, count = 0.0, 0
    for t in range(1, len(frames_in)):
        gi = np.abs(frames_in[t].astype(np.float32) - frames_in[t - 1]).mean(-1)
        mask = gi < still
        if mask.any():
            d = np.abs(frames_out[t].astype(np.float32) - frames_out[t - 1]).mean(-1)
            total += float(d[mask].sum())
            count += int(mask.sum())
    return total / max(count, 1)
