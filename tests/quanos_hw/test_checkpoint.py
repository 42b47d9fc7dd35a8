"""Checkpoints carry their SHA-256 beside them (NAME.pt.sha256, sha256sum format): a flipped bit
anywhere in the file is refused, naming it; a crash at any point of a write leaves a file that the
recorded hash accepts."""

from __future__ import annotations

import hashlib

import pytest
import torch

import quanos_hw.integrity as integrity
from quanos_hw import create_model
from quanos_hw.checkpoint import load_checkpoint, save_checkpoint
from quanos_hw.errors import CheckpointError, DiskFullError
from quanos_hw.integrity import digest_path
from tests.conftest import flip_one_bit_in_tensor_data


def _save(path, epoch=1):
    torch.manual_seed(epoch)
    save_checkpoint(path, model=create_model("small_cnn", in_channels=1), config_hash="h", epoch=epoch)


def test_the_hash_is_recorded_in_sha256sum_format(tmp_path):
    path = tmp_path / "a.pt"
    _save(path)
    assert digest_path(path).read_text() == f"{hashlib.sha256(path.read_bytes()).hexdigest()}  a.pt\n"
    assert load_checkpoint(path, "h", digest_required=True)["epoch"] == 1


def test_a_flipped_bit_in_tensor_data_is_refused(tmp_path):
    path = tmp_path / "a.pt"
    _save(path)
    flip_one_bit_in_tensor_data(path)
    with pytest.raises(CheckpointError, match=f"checkpoint '{path}' does not match the SHA-256 recorded when it was "
                                              "written: it was modified or damaged"):
        load_checkpoint(path)


def test_a_missing_hash_is_refused_only_where_one_is_required(tmp_path):
    path = tmp_path / "a.pt"
    _save(path)
    digest_path(path).unlink()
    assert load_checkpoint(path)["epoch"] == 1  # e.g. a checkpoint copied out of its folder
    with pytest.raises(CheckpointError, match="has no recorded content hash"):
        load_checkpoint(path, digest_required=True)


def test_a_damaged_hash_file_is_refused(tmp_path):
    path = tmp_path / "a.pt"
    _save(path)
    digest_path(path).write_text("not a hash\n")
    with pytest.raises(CheckpointError, match="is damaged"):
        load_checkpoint(path)


def test_a_write_cut_short_leaves_a_checkpoint_the_hash_accepts(tmp_path, monkeypatch):
    """The new hash is recorded (beside the old one) before the file is replaced: a failure (a full
    disk, a kill) between the two leaves the old checkpoint, still accepted."""
    path = tmp_path / "a.pt"
    _save(path, epoch=1)
    real = integrity.atomic_write_bytes

    def full(target, data, *args):
        if target == path:
            raise DiskFullError("no space left on the device")
        return real(target, data, *args)

    monkeypatch.setattr(integrity, "atomic_write_bytes", full)
    with pytest.raises(DiskFullError):
        _save(path, epoch=2)
    assert len(digest_path(path).read_text().splitlines()) == 2  # the new hash and the old one
    assert load_checkpoint(path, digest_required=True)["epoch"] == 1
    monkeypatch.undo()
    _save(path, epoch=2)
    assert len(digest_path(path).read_text().splitlines()) == 1
    assert load_checkpoint(path, digest_required=True)["epoch"] == 2
