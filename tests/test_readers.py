"""Dataset readers on the real shared subsets (skipped without them) and on synthetic fixtures."""

import csv
import json

import pytest

from artifygan.data.readers import read_celeba, read_coco, read_folder, read_safebooru

from .conftest import DATA, need_shared, random_rgb

CELEBA, COCO = DATA / "celeba", DATA / "coco"


@need_shared(CELEBA)
def test_celeba_partial_download_is_counted():
    res = read_celeba(CELEBA)
    assert len(res.items) == 10000
    # the partition file lists all 202,599 images; only 10,000 are on disk
    assert res.missing["list_eval_partition.txt"] == 202599 - 10000
    assert all(it.split == "train" for it in res.items)  # images 1..162770 are CelebA's train split
    # the attribute file is truncated to 821 rows: every other image has no attributes, and is counted
    assert any("9,179" in n for n in res.notes)
    assert sum(bool(it.attributes) for it in res.items) == 821
    assert res.items[0].landmarks is not None  # first rows of the landmark file


@need_shared(CELEBA)
def test_celeba_attribute_filter_matches_the_file():
    lines = (CELEBA / "list_attr_celeba.txt").read_text().splitlines()
    header = lines[1].split()
    rows = [ln.split() for ln in lines[2:] if ln.strip()]
    i_male, i_glasses = header.index("Male") + 1, header.index("Eyeglasses") + 1
    expected = sum(r[i_male] == "1" and r[i_glasses] == "-1" for r in rows)
    res = read_celeba(CELEBA, attr_filters={"Male": 1, "Eyeglasses": -1})
    assert len(res.items) == expected
    assert res.dropped["no attribute row (filter needs one)"] == 10000 - 821
    assert res.dropped["attribute filter"] == 821 - expected
    with pytest.raises(ValueError, match="unknown CelebA attribute"):
        read_celeba(CELEBA, attr_filters={"Moustache": 1})


def test_celeba_synthetic_truncated_and_malformed(tmp_path):
    imgs = tmp_path / "img_align_celeba"
    imgs.mkdir()
    for i in (1, 2, 3, 9):
        random_rgb(20, 24, i).save(imgs / f"{i:06d}.jpg")
    (tmp_path / "list_attr_celeba.txt").write_text(
        "5\nSmiling Male\n000001.jpg 1 -1\n000002.jpg -1 1\n000003.jpg 1\n000004.jpg 1 1\n")
    (tmp_path / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 1\n000003.jpg 2\n000005.jpg 0\n")
    res = read_celeba(tmp_path)
    assert [it.split for it in res.items] == ["train", "val", "test", None]
    assert res.dropped["list_attr_celeba.txt: malformed row"] == 1
    assert res.missing == {"list_attr_celeba.txt": 1, "list_eval_partition.txt": 1}
    assert any("declares 5 rows, file has 3" in n for n in res.notes)
    assert len(read_celeba(tmp_path, splits=["val"]).items) == 1


def _coco_expected(split, min_area=4096.0, cats=("person",)):
    data = json.loads((COCO / "annotations" / f"instances_{split}2017.json").read_text())
    ids = {c["id"] for c in data["categories"] if c["name"] in cats}
    keep = [a for a in data["annotations"]
            if a["category_id"] in ids and not a["iscrowd"] and a["area"] >= min_area]
    return len({a["image_id"] for a in keep}), len(keep)


@need_shared(COCO)
def test_coco_selection_follows_the_annotations():
    n_img = sum(_coco_expected(s)[0] for s in ("train", "val"))
    n_inst = sum(_coco_expected(s)[1] for s in ("train", "val"))
    whole = read_coco(COCO)
    assert len(whole.items) == n_img and n_img > 0
    inst = read_coco(COCO, mode="instances")
    assert len(inst.items) == n_inst and all(it.box is not None for it in inst.items)
    assert {it.split for it in whole.items} <= {"train", "val"}
    dogs = read_coco(COCO, categories=["dog"], min_area=0)
    assert len(dogs.items) == sum(_coco_expected(s, 0, ("dog",))[0] for s in ("train", "val"))
    with pytest.raises(ValueError, match="unknown categor"):
        read_coco(COCO, categories=["unicorn"])


def _safebooru_fixture(root, fmt):
    root.mkdir()
    posts = [
        {"id": 1, "rating": "safe", "tags": "1girl solo smile", "sample_url": "https://x/samples/sample_aa.jpg"},
        {"id": 2, "rating": "safe", "tags": "1girl solo comic", "sample_url": "https://x/samples/sample_bb.jpg"},
        {"id": 3, "rating": "questionable", "tags": "1girl solo", "sample_url": "https://x/s/sample_cc.jpg"},
        {"id": 4, "rating": "safe", "tags": "1boy solo", "sample_url": "https://x/s/sample_dd.jpg"},
        {"id": 5, "rating": "safe", "tags": "1girl solo", "sample_url": "https://x/s/sample_ee.jpg"},
    ]
    random_rgb(32, 32, 1).save(root / "1.jpg")  # matched by id
    random_rgb(32, 32, 2).save(root / "sample_bb.jpg")  # matched by file name
    random_rgb(32, 32, 3).save(root / "3.png")
    random_rgb(32, 32, 4).save(root / "4.jpg")
    random_rgb(32, 32, 6).save(root / "orphan.jpg")  # no metadata row; post 5 was never downloaded
    if fmt == "csv":
        cols = ["id", "created_at", "rating", "score", "sample_url", "sample_width", "sample_height",
                "preview_url", "tags"]
        with (root / "posts.csv").open("w", newline="") as f:
            w = csv.DictWriter(f, cols)
            w.writeheader()
            for p in posts:
                w.writerow({c: p.get(c, "") for c in cols})
    else:
        (root / "posts.json").write_text(json.dumps(posts))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_safebooru_tags_ratings_and_matching(tmp_path, fmt):
    root = tmp_path / "sb"
    _safebooru_fixture(root, fmt)
    res = read_safebooru(root, tags=["1girl", "solo"], exclude_tags=["comic"], ratings=["safe"])
    assert [it.attributes["post_id"] for it in res.items] == ["1"]
    assert res.dropped["excluded tag"] == 1  # post 2 is a comic
    assert res.dropped["missing required tag"] == 1  # post 4 lacks 1girl
    assert res.dropped["rating filter"] == 1
    assert res.dropped["post not downloaded"] == 1
    assert res.dropped["image without metadata row"] == 1
    everything = read_safebooru(root)
    assert sorted(it.attributes["post_id"] for it in everything.items) == ["1", "2", "3", "4"]
    assert all(it.role == "cartoon" for it in everything.items)
    assert [it.attributes["post_id"] for it in read_safebooru(root, tags=["1girl"], exclude_tags=["comic"],
                                                               ratings=["Safe "]).items] == ["1"]  # any case
    if fmt == "csv":  # Excel saves CSV with a byte-order mark: its first column read as "\ufeffid", every row lost
        meta = root / "posts.csv"
        meta.write_bytes(b"\xef\xbb\xbf" + meta.read_bytes())
        assert len(read_safebooru(root).items) == 4
    else:  # tags as a list (some exports) instead of one space-separated string
        posts = json.loads((root / "posts.json").read_text())
        (root / "posts.json").write_text(json.dumps([{**p, "tags": p.get("tags", "").split()} for p in posts]))
        assert [it.attributes["post_id"] for it in read_safebooru(root, tags=["1girl", "solo"],
                                                                   exclude_tags=["comic"]).items] == ["1", "3"]


def test_folder_reader_bad_inputs(tmp_path):
    root = tmp_path / "f"
    (root / "sub").mkdir(parents=True)
    random_rgb(16, 16).save(root / "sub" / "ok.png")
    random_rgb(16, 16).save(root / "png_named.jpg", format="PNG")
    (root / "zero.jpg").write_bytes(b"")
    (root / "text.jpg").write_text("not an image")
    (root / "dangling.jpg").symlink_to(root / "missing-target.jpg")
    res = read_folder(root, "photo")
    assert sorted(it.key for it in res.items) == ["f/png_named", "f/sub/ok"]
    assert res.dropped == {"empty file": 1, "not an image": 1, "broken link": 1}
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_folder(tmp_path / "nowhere", "photo")


def test_a_missing_layout_names_what_the_asked_variant_or_split_reads(tmp_path):
    """--celeba-variant wild said 'no img_align_celeba/ or img_celeba/' with img_align_celeba_half/ there;
    COCO --splits test said 'no instances_train2017.json or instances_val2017.json' with both there."""
    from artifygan.data.readers.celeba import read_celeba
    from artifygan.data.readers.coco import read_coco

    (tmp_path / "celeba" / "img_align_celeba_half").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no img_celeba/ \(--celeba-variant wild\) folder"):
        read_celeba(tmp_path / "celeba", variant="wild")
    (tmp_path / "coco" / "annotations").mkdir(parents=True)
    (tmp_path / "coco" / "annotations" / "instances_val2017.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"no instances_test2017.json \(--splits test\)"):
        read_coco(tmp_path / "coco", splits=["test"])
