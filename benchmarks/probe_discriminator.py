"""Can a fresh patch discriminator tell the bundled default's outputs from anime faces? (issue 13)

Why: fine-tunes of the default with a fresh discriminator drifted back to the photo while the D loss stayed
near chance (MODEL_CARD.md). This trains the recipe's discriminator alone, for as many steps as a
fine-tune's warm-up, on anime faces (real) against the default's translations of photos (fake), both at
the training size, and prints its held-out accuracy (median-split of the mean patch score) per variant.

    python benchmarks/probe_discriminator.py [--steps 150] [--size 128] [--n 480] [--only 3 4] [--eval-every 200]
"""

from __future__ import annotations

import argparse
import time

import torch

from artifygan.imageio import list_images, load_image, pil_to_tensor
from artifygan.inference.cartoonizer import resolve_snapshot
from artifygan.losses import d_fake_loss, d_real_loss
from artifygan.models import DISCRIMINATORS, load_generator

VARIANTS = [("recipe: spectral + layer norm, lr 2e-4", {"norm": "layer", "spectral_norm": True}, 2e-4),
            ("recipe, lr 1e-3", {"norm": "layer", "spectral_norm": True}, 1e-3),
            ("no spectral norm, no norm, lr 2e-4", {"norm": "none", "spectral_norm": False}, 2e-4),
            ("recipe + 1 extra stride-2 conv (61 px view)", {"norm": "layer", "spectral_norm": True, "extra_down": 1},
             2e-4),
            ("recipe + 2 extra stride-2 convs (109 px view)",
             {"norm": "layer", "spectral_norm": True, "extra_down": 2}, 2e-4)]


def load(folder: str, n: int, size: int) -> torch.Tensor:
    return torch.stack([pil_to_tensor(load_image(p).resize((size, size))) for p in list_images([folder])[:n]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--anime", default="data/s2a_256/train/cartoons")
    ap.add_argument("--photos", default="data/s2a_256/train/photos")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--n", type=int, default=480, help="images of each kind; the last sixth is held out")
    ap.add_argument("--only", nargs="*", type=int, help="indices of the variants to run (default: all)")
    ap.add_argument("--eval-every", type=int, default=0, help="also print the held-out accuracy every N steps")
    a = ap.parse_args()
    anime, photos = load(a.anime, a.n, a.size), load(a.photos, a.n, a.size)
    g, _ = load_generator(resolve_snapshot(None), device="cpu")
    with torch.inference_mode():
        fakes = torch.cat([g(photos[i:i + 32]) for i in range(0, len(photos), 32)])
    n_train = len(fakes) * 5 // 6
    for k, (name, args, lr) in enumerate(VARIANTS):
        if a.only and k not in a.only:
            continue
        torch.manual_seed(0)
        d = DISCRIMINATORS.build("patch", args)
        opt = torch.optim.Adam(d.parameters(), lr, betas=(0.5, 0.999))
        t0 = time.perf_counter()
        for step in range(1, a.steps + 1):  # batch 8 + 8, as the training recipe
            i, j = torch.randint(0, n_train, (8,)), torch.randint(0, n_train, (8,))
            real, fake = d(torch.cat([anime[i], fakes[j]])).chunk(2)
            loss = d_real_loss(real, "lsgan") + d_fake_loss(fake, "lsgan")
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step == a.steps or (a.eval_every and step % a.eval_every == 0):
                acc, sr, sf = held_out(d, anime[n_train:], fakes[n_train:])
                print(f"{name}, step {step}: held-out accuracy {acc:.2f} (mean score anime {sr:.2f}, default's "
                      f"outputs {sf:.2f}; last LSGAN loss {loss.item():.3f}, chance 0.5), "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)


def held_out(d: torch.nn.Module, anime: torch.Tensor, fakes: torch.Tensor) -> tuple[float, float, float]:
    """Accuracy of a median-split threshold on the mean patch score, and the two mean scores."""
    with torch.no_grad():
        sr, sf = d(anime).mean((1, 2, 3)), d(fakes).mean((1, 2, 3))
    thr = (sr.median() + sf.median()) / 2
    acc = ((sr > thr).float().mean() + (sf <= thr).float().mean()) / 2
    return float(acc), float(sr.mean()), float(sf.mean())


if __name__ == "__main__":
    main()
