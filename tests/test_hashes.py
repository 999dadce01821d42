"""Content hashes of the files a run is made from (issue 19, items 4 and 5): a remembered hash
never outlives the file's content, and remembering it never writes beside the user's file."""
from __future__ import annotations

import os
import shutil

from nst.contracts.params import weights_file_sha256
from nst import hashes
from nst.hashes import sha256_file


def replace_keeping_size_and_mtime(path, content: bytes) -> None:
    """What `cp -p`, a restored backup or a synced folder does: another file under the name,
    with the old one's size and modification time."""
    assert len(content) == path.stat().st_size
    stat = path.stat()
    fresh = path.with_name(path.name + ".new")
    fresh.write_bytes(content)
    os.utime(fresh, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(fresh, path)


def test_a_file_replaced_with_the_same_size_and_mtime_gets_its_own_hash(tmp_path):
    weights = tmp_path / "vgg.pth"
    weights.write_bytes(b"first network")
    assert weights_file_sha256(str(weights)) == sha256_file(weights)
    replace_keeping_size_and_mtime(weights, b"other network")
    assert weights_file_sha256(str(weights)) == sha256_file(weights)


def test_a_file_rewritten_in_place_with_its_mtime_restored_gets_its_own_hash(tmp_path):
    weights = tmp_path / "vgg.pth"
    weights.write_bytes(b"first network")
    stat = weights.stat()
    assert weights_file_sha256(str(weights)) == sha256_file(weights)
    with open(weights, "r+b") as fh:  # the same inode, the same size, the old mtime
        fh.write(b"FIRST")
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights_file_sha256(str(weights)) == sha256_file(weights)


def test_hashing_never_writes_beside_the_users_file(tmp_path):
    """`vgg.pth.json` may be the user's own notes or model card: it stays as it was, and no
    other file appears beside the weights."""
    folder = tmp_path / "models"
    folder.mkdir()
    weights = folder / "vgg.pth"
    weights.write_bytes(b"a network")
    (folder / "vgg.pth.json").write_text('{"notes": "trained by me"}\n')
    weights_file_sha256(str(weights))
    shutil.copy(weights, folder / "copy.pth")
    weights_file_sha256(str(folder / "copy.pth"))
    assert (folder / "vgg.pth.json").read_text() == '{"notes": "trained by me"}\n'
    assert sorted(p.name for p in folder.iterdir()) == ["copy.pth", "vgg.pth", "vgg.pth.json"]


# --- the cache: used while it can be trusted, and only then -----------------------------------
def counting_reads(monkeypatch) -> list:
    reads = []
    real = hashes.sha256_file
    monkeypatch.setattr(hashes, "sha256_file", lambda path: reads.append(path) or real(path))
    return reads


def later_by(monkeypatch, seconds: float) -> None:
    """Hashes are taken `seconds` after the files' last change (a real study hashes files made
    long before; here they were just written)."""
    real = hashes.now_ns
    monkeypatch.setattr(hashes, "now_ns", lambda: real() + int(seconds * 1e9))


def test_an_unchanged_file_is_read_once_then_remembered_across_processes(tmp_path, monkeypatch, hash_cache):
    weights = tmp_path / "vgg.pth"
    weights.write_bytes(b"a network")
    later_by(monkeypatch, 10)
    reads = counting_reads(monkeypatch)
    digest = hashes.content_sha256(weights)
    hashes._MEMO.clear()  # another process: only the cache folder remembers
    assert hashes.content_sha256(weights) == digest == hashes.known_sha256(weights)
    assert len(reads) == 1
    assert [p.parent.name for p in hash_cache.rglob("*.json")].count("sha256") >= 1
    assert hashes.content_sha256(weights, rehash=True) == digest and len(reads) == 2


def test_a_hash_taken_right_after_a_change_is_not_trusted(tmp_path, monkeypatch):
    """A rewrite of the same size within one tick of the filesystem's clock would keep the
    stamp: a hash taken that soon is used by no later call."""
    weights = tmp_path / "vgg.pth"
    weights.write_bytes(b"a network")
    reads = counting_reads(monkeypatch)
    hashes.content_sha256(weights)
    assert hashes.known_sha256(weights) is None
    hashes.content_sha256(weights)
    assert len(reads) == 2


def test_a_cache_folder_that_cannot_be_written_only_costs_a_hash(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("NST_CACHE_DIR", str(blocked))
    later_by(monkeypatch, 10)
    weights = tmp_path / "vgg.pth"
    weights.write_bytes(b"a network")
    assert hashes.content_sha256(weights) == hashes.sha256_file(weights)
    assert blocked.read_text() == "a file where the cache folder would be"
