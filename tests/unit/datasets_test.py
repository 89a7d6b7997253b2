"""Tests of mobile_ssl.data.datasets: names, task codes and the errors for what is not there."""

import pytest

from mobile_ssl.data import datasets


def test_unknown_dataset_lists_valid_names(data_dir):
  with pytest.raises(ValueError, match="unknown dataset 'no_such_thing'.*synthetic_audio"):
    datasets.builder("no_such_thing", data_dir=data_dir)


def test_catalog_dataset_that_is_not_built_says_how(data_dir):
  with pytest.raises(ValueError, match="never downloads at run time.*tfds build speech_commands"):
    datasets.builder("speech_commands", data_dir=data_dir)


def test_manual_dataset_that_is_not_built_names_manual_dir(data_dir):
  with pytest.raises(ValueError, match="tfds build musan.*--manual_dir"):
    datasets.builder("musan", data_dir=data_dir)


def test_missing_folder_is_named(tmp_path, data_dir):
  with pytest.raises(ValueError, match="nowhere: audio folder not found"):
    datasets.builder(str(tmp_path / "nowhere"), data_dir=data_dir)


def test_task_codes_and_custom_tasks():
  assert datasets.downstream_task("NSI").label_key == "instrument/family"
  assert set(datasets.DOWNSTREAM_TASKS) >= {"MUS", "BSD", "TUT", "LSP", "SPC", "LID", "NSP", "NSI"}
  custom = datasets.downstream_task("../fsdd/recordings:speaker")
  assert (custom.dataset, custom.label_key) == ("../fsdd/recordings", "speaker")
  with pytest.raises(ValueError, match="unknown task 'XYZ'"):
    datasets.downstream_task("XYZ")
  assert datasets.parse_spec("speech_commands@validation") == ("speech_commands", "validation")


def test_label_names_and_unknown_label(tiny_synthetic):
  assert len(datasets.label_names(tiny_synthetic, "event")) == 8
  with pytest.raises(ValueError, match="no label 'speaker'.*event"):
    datasets.label_names(tiny_synthetic, "speaker")
