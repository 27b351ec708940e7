"""The bad-input matrix: every kind of user mistake we tried, the test
that tries it, and whether the error is clear (names the culprit: file,
key or value, and what would be right). ``clear``: it was already;
``fixed``: it was unclear or silent and is clear since issue #10, #17 or
#18.

Add a row when you add such a test. tests/reliability/README.md is
generated from this list (``python tests/reliability/matrix.py``), and
test_matrix.py fails when it, or the counts in docs/reliability.md, are
stale, or when a row names a test that does not exist.
"""
import os.path as osp
import sys
from typing import NamedTuple


class Row(NamedTuple):
    input: str    # input class
    case: str     # what is wrong
    message: str  # what the error says (abridged)
    test: str     # tests/...py::test_function
    status: str   # 'clear' | 'fixed'


R = 'tests/reliability/test_bad_input.py::'
LIST = 'tests/test_datasets/test_list_file.py::'
IO = 'tests/test_evaluation/test_io.py::'
INDEX = 'tests/test_retrieval/test_index_file.py::'
CKPT = 'tests/test_engine/test_checkpoint_loading.py::'
FIT = 'tests/reliability/test_checkpoint_fit.py::'
HONEST = 'tests/reliability/test_honest_numbers.py::'

ROWS = [
    # ---- config keys and values
    Row('config', 'unknown type', '`NoSuchHasher` is not in the '
        'mmpretrain::model registry', R + 'test_unknown_type_names_the_type_'
        'and_registry', 'clear'),
    Row('config', 'unknown key', "HashHead.__init__() got an unexpected "
        "keyword argument 'num_bit'", R + 'test_unknown_key_names_the_class_'
        'and_key', 'clear'),
    Row('config', 'head in_channels != backbone width', 'got features of '
        'width W, but in_channels=C; set model.head.in_channels ...',
        'tests/test_models/test_deep_hasher.py::test_head_rejects_wrong_'
        'feature_width', 'clear'),
    Row('config', 'num_bits not a positive int', 'num_bits must be a '
        'positive int, got ...', 'tests/test_models/test_deep_hasher.py::'
        'test_head_rejects_bad_num_bits', 'clear'),
    Row('config', 'code length mismatch: DADH stream_f vs stream_g',
        'stream_f has 16 bits but stream_g has 8: set the same '
        'head.num_bits', 'tests/test_dadh/test_dadh_hasher.py::'
        'test_build_errors', 'clear'),
    Row('config', 'code length mismatch: transfer head vs hash head',
        'transfer_heads.domain.in_channels=X but head.num_bits=8',
        'tests/test_tah/test_transfer_hasher.py::test_domain_tag_errors',
        'clear'),
    Row('config', 'GAN generator/discriminator classes differ',
        'discriminator.num_classes=.. but generator.num_classes=..',
        'tests/test_gans/test_hashing_gan.py::test_mismatched_classes_and_'
        'bad_ratio_raise', 'clear'),
    Row('config', 'K (topk) larger than the database', 'topk=6 is larger '
        'than the database (5 items) ... at most 5',
        R + 'test_topk_larger_than_database_is_refused', 'fixed'),
    Row('config', 'unknown metric item / tie policy', "must be one of ...",
        'tests/test_evaluation/test_metric.py::test_errors', 'clear'),
    Row('config', 'label index >= num_classes', "index 4, but "
        "num_classes=4 ... img_path='x.jpg'",
        'tests/test_datasets/test_pack.py::test_bad_labels', 'clear'),
    Row('config', 'nonfinite_loss not stop/skip', "policy must be one of "
        "('stop', 'skip') ... (config key nonfinite_loss)",
        'tests/reliability/test_nonfinite_loss.py::test_bad_policy_is_'
        'refused', 'clear'),
    Row('config', 'K (topk) above the database: tools/analysis_tools/'
        'eval_codes.py', 'eval_codes.py: --topk 10 is larger than the '
        'database of codes.npz (5 items), so mAP@10 would be mAP@all; use '
        '--topk all, ... or --clamp-topk to report it as mAP@all (was: '
        'printed as mAP@10)', HONEST + 'test_eval_codes_refuses_topk_above_'
        'the_database', 'fixed'),
    Row('config', 'K (topk) above the database: hamming_retrieval_metrics, '
        'mean_average_precision', 'topk=6 is larger than the database (5 '
        "items) ...; topk_beyond_database='clamp' for the reference loops' "
        'convention (was: mAP@all returned as mAP@6)',
        HONEST + 'test_functional_apis_refuse_topk_above_the_database',
        'fixed'),
    Row('config', 'train batch too small for a pairwise / triplet loss',
        'train_dataloader.batch_size=1, but model.head.losses.pairwise '
        '(PairwiseLogisticLoss) forms its pairs/triplets within the global '
        'batch (batch_size x 1 rank(s) = 1 samples) and needs at least 2 '
        '... (was: trained to random codes, mAP 0.105, no message)',
        HONEST + 'test_batch_too_small_for_the_pair_loss_is_refused',
        'fixed'),
    Row('config', '--resume with changed optimizer / scheduler settings',
        "warning: --resume from epoch_1.pth overrode the config's ... lr "
        '(base) 0.05 in the config, 0.01 from the checkpoint; ... T_max 20 '
        '... 10 ...; load_from=CHECKPOINT without --resume (was: the '
        "checkpoint's values used silently)", HONEST + 'test_resume_says_'
        'which_settings_the_checkpoint_overrode', 'fixed'),
    Row('config', 'HASHPLUGINS_DIST_TIMEOUT not a number',
        "HASHPLUGINS_DIST_TIMEOUT='soon': expected a positive number of "
        'seconds', R + 'test_bad_distributed_timeout', 'clear'),
    # ---- METAH (CodeClassifierHead, RampScheduleHook)
    Row('config', 'METAH classifier in_channels != hash head num_bits',
        'transfer_heads.semantic.in_channels=16 but head.num_bits=8',
        R + 'test_code_classifier_must_fit_the_hash_head', 'clear'),
    Row('config', 'METAH classifier num_classes != hash head num_classes',
        'transfer_heads.semantic.num_classes=4 but head.num_classes=10 '
        '(was: accepted)', R + 'test_code_classifier_must_fit_the_hash_head',
        'fixed'),
    Row('config', 'METAH classifier num_classes below the labels',
        'CodeClassifierHead: label index 5 is out of range for '
        'num_classes=4; set its num_classes ... (was: no head named)',
        R + 'test_code_classifier_label_out_of_range_names_the_head',
        'fixed'),
    Row('config', 'METAH cls_weight and ent_weight both 0',
        'both 0/None, so the head adds no loss; remove it from '
        'transfer_heads', 'tests/test_metah/test_metah_losses.py::'
        'test_terms_switch_off_and_hidden_layer', 'clear'),
    Row('config', 'ramp hook: no such module / attribute',
        "TransferHasher has no submodule 'transfer_heads.nothing' / "
        "... has no float attribute 'typo'",
        R + 'test_ramp_hook_names_the_missing_module_or_attribute', 'clear'),
    # ---- DSH-GANs
    Row('config', 'DSH-GANs: unconditional generator / non-AC '
        'discriminator', "needs a class-conditional generator ... "
        "(conditioning='ac') ...; got generator.num_classes=None, "
        'discriminator.conditioning=None (was: values not shown)',
        R + 'test_dsh_gans_needs_conditional_generator_and_ac_'
        'discriminator', 'fixed'),
    Row('config', 'DSH-GANs: hasher num_classes != generator num_classes',
        'DSHGANs: hasher.num_classes=3 but generator.num_classes=4',
        R + 'test_dsh_gans_hasher_classes_must_match_the_generator',
        'clear'),
    Row('dataset', 'semi-supervised: empty labelled set',
        'SemiSupervisedDataset: the labelled dataset is empty (was: '
        "TransferPairDataset: the source dataset ...)",
        R + 'test_empty_labelled_set_is_named', 'fixed'),
    # ---- dataset roots, list files, images
    Row('dataset', 'list: data_root / ann_file missing', 'data_root=... '
        'does not exist (set data_root to ...)', LIST + 'test_dataset_infos_'
        'and_errors', 'clear'),
    Row('dataset', 'list: empty', 'ann_file=... lists no images',
        LIST + 'test_empty_list_and_bad_width', 'clear'),
    Row('dataset', 'list: bad line (label not 0/1, empty path)',
        "list.txt, line 3: label 1 is '2'; labels must be 0 or 1; line "
        'text: ...', LIST + 'test_bad_lines_name_file_line_and_reason',
        'clear'),
    Row('dataset', 'list: wrong label width', 'line 3: found 2 labels, '
        'expected num_classes=3', LIST + 'test_bad_lines_name_file_line_'
        'and_reason', 'clear'),
    Row('dataset', 'list: duplicate path', "path 'a.jpg' is already "
        'listed on line 1', LIST + 'test_bad_lines_name_file_line_and_'
        'reason', 'clear'),
    Row('dataset', 'image folder: root / domain / class missing',
        "data_root=... missing; domain='nope' ... 'dom'",
        'tests/test_datasets/test_image_folder.py::test_folder_errors',
        'clear'),
    Row('dataset', 'CIFAR-10 root missing or without data', 'does not '
        'exist / holds no CIFAR-10 copy', 'tests/test_datasets/test_cifar10'
        '.py::test_missing_or_unknown_roots', 'clear'),
    Row('dataset', 'headline command (tools/train.py) without data',
        'error: train_dataloader.dataset.data_root=... does not exist '
        '(CIFAR10Hashing), the layout, the command that gets it: 5 lines, '
        'before the Runner (was: 403 lines ending in a traceback)',
        'tests/test_tools/test_missing_data_cli.py::test_headline_command_'
        'without_data_is_short', 'fixed'),
    Row('dataset', 'missing data root (CIFAR-10, MNIST, USPS, PACS, image '
        'folder, list)', '<Class>: data_root=... does not exist (the '
        'data_root of the dataset config ...); expected: ...; to get it: ...',
        'tests/test_datasets/test_missing_data.py::test_missing_data_root_'
        'messages', 'fixed'),
    Row('dataset', 'CIFAR-10 download: wrong md5 / interrupted / unsafe '
        'archive', 'the download of ... has md5 ..., expected ...; it was '
        'deleted / stopped after N of M bytes ...: run again to resume / '
        "member '../evil.txt' climbs out",
        'tests/test_datasets/test_download.py::test_wrong_md5_leaves_nothing_'
        'under_the_final_name', 'clear'),
    Row('dataset', 'MNIST idx file corrupt', 'bad magic / header says '
        '(2, 3) / cannot be read', 'tests/test_datasets/test_digits.py::'
        'test_idx_reader_errors', 'clear'),
    Row('dataset', 'truncated image (cv2 and pillow decoders)',
        "HashingListDataset: could not load sample 1, img_path='.../bad.jpg'"
        ', list_line=2: ...', R + 'test_unreadable_image_names_file_and_'
        'list_line', 'fixed'),
    Row('dataset', 'not an image / empty image file', 'as above (was: '
        'cv2 assertion or PIL "cannot identify image file <BytesIO>", '
        'no path)', R + 'test_unreadable_image_names_file_and_list_line',
        'fixed'),
    Row('dataset', 'CIFAR-10 batch with a malicious pickle',
        'refused by a restricted unpickler, naming the file',
        'tests/test_datasets/test_cifar10.py::test_unsafe_or_malformed_'
        'pickles', 'clear'),
    Row('dataset', 'fake-image bank left incomplete by a crash',
        'incomplete (no partial bank looks complete)',
        'tests/test_gans/test_fake_data.py::test_bank_is_complete_or_absent',
        'clear'),
    # ---- checkpoints
    Row('checkpoint', 'other code length than the model',
        'dpsh16.pth does not fit the model DeepHasher: ... '
        'head.fc_hash.weight: checkpoint (16, 120) vs model (8, 120) (was: '
        'a warning, then a partly random model)',
        R + 'test_checkpoint_of_other_code_length_is_refused', 'fixed'),
    Row('checkpoint', 'checkpoint of another model', 'gan.pth does not '
        'fit ...: none of its 1 tensors ... (was: a warning)',
        R + 'test_checkpoint_of_another_model_is_refused', 'fixed'),
    Row('checkpoint', 'tools/test.py: hash-layer keys of another name',
        'renamed.pth does not fit the model DeepHasher: 2 key(s) of the '
        'model are not in the checkpoint (head.fc_hash.weight, ...) and 2 '
        'of its keys are not in the model (head.hash_fc.weight, ...): '
        'modules named differently ... (was: loaded non-strictly, mAP 0.53 '
        'instead of 0.81, exit 0)', FIT + 'test_test_tool_refuses_a_'
        'checkpoint_whose_hash_layer_does_not_match', 'fixed'),
    Row('checkpoint', 'load_from: hash-layer keys of another name',
        'as above, before the first iteration (was: a warning, then a '
        'partly random model trained on)', FIT + 'test_load_from_refuses_a_'
        'checkpoint_whose_hash_layer_does_not_match', 'fixed'),
    Row('checkpoint', 'checkpoint of part of the model / with extra parts',
        "1 key(s) of the model are not in the checkpoint (head.fc.weight): "
        "... init_cfg=dict(type='Pretrained', ...) / 1 of its keys are not "
        'in the model (discriminator.w) (was: a warning)',
        FIT + 'test_fit_policy_names_missing_and_unexpected_keys', 'fixed'),
    Row('checkpoint', 'missing / truncated file', 'cut.pth is not a '
        'readable torch checkpoint (truncated or corrupt?)',
        CKPT + 'test_missing_and_truncated_files', 'clear'),
    Row('checkpoint', 'not a checkpoint at all (text)', 'notes.pth is not a '
        "readable torch checkpoint ... (was: 'pop from empty list')",
        R + 'test_not_a_checkpoint_names_the_file', 'fixed'),
    Row('checkpoint', 'malicious pickle', 'Refusing to unpickle evil.pth '
        '... pass --trust-checkpoint', CKPT + 'test_malicious_pickle_is_'
        'refused_by_default', 'clear'),
    Row('checkpoint', 'DADH resume with another training set',
        'resume with the same dataset', 'tests/test_dadh/test_dadh_resume.py'
        '::test_b_and_buffers_survive_save_and_resume', 'clear'),
    # ---- code files (tools/test.py --out) and index files
    Row('codes file', 'wrong format / version', 'bad.npz: unsupported '
        'format_version 2', IO + 'test_errors_name_file_and_key', 'clear'),
    Row('codes file', 'mismatched bits / rows / label widths',
        'bad.npz: query_codes must be a ... / 8 rows for 9 codes',
        IO + 'test_errors_name_file_and_key', 'clear'),
    Row('codes file', 'not an npz / missing', 'is not a codes file / '
        'missing.npz does not exist', IO + 'test_not_a_codes_file', 'clear'),
    Row('codes file', 'truncated', 'codes.npz is not a codes file (.npz)',
        R + 'test_truncated_codes_file_names_the_file', 'clear'),
    Row('codes file', 'object (pickled) array', 'evil.npz: key "meta" holds '
        'pickled Python objects ... allow_pickle=False (was: numpy\'s '
        'message without the file)', R + 'test_object_array_codes_file_is_'
        'refused', 'fixed'),
    Row('codes file', 'invalid content on save', 'nothing is written',
        IO + 'test_save_validates_and_leaves_nothing', 'clear'),
    Row('index file', 'wrong format / version / content / object array',
        'format_version 2 is not supported / pickled ...',
        INDEX + 'test_bad_content_is_refused', 'clear'),
    Row('index file', 'code length mismatch', 'holds 12-bit codes but '
        '32-bit codes ...', INDEX + 'test_code_length_mismatch', 'clear'),
    Row('index file', 'truncated / garbage / missing', 'truncated or '
        'corrupt, naming the file', INDEX + 'test_truncated_garbage_and_'
        'missing', 'clear'),
    Row('index file', 'corrupted bytes inside', 'corrupt (zip CRC)',
        INDEX + 'test_flipped_bytes_inside_member', 'clear'),
    Row('index file', 'save fails midway', 'the old file is kept, no '
        'temporary left', INDEX + 'test_save_failure_leaves_old_file',
        'clear'),
    # ---- retrieval tools (tools/encode.py, tools/retrieve.py, HashEncoder)
    Row('retrieval', 'image folder missing / holds no images',
        'image input .../nope does not exist / .../empty holds no images '
        '(suffixes ...)', R + 'test_encode_missing_or_imageless_folder',
        'clear'),
    Row('retrieval', 'unreadable image (truncated, not an image, empty)',
        'cannot read image .../bad.jpg (not an image, or corrupt) (was, '
        'for an empty file: a cv2 assertion without the path)',
        R + 'test_encode_unreadable_image_names_the_file', 'fixed'),
    Row('retrieval', 'tools/encode.py: checkpoint of another code length '
        '/ other key names', 'lenet8.pth does not fit the model DeepHasher: '
        '... head.fc_hash.weight: checkpoint (8, 120) vs model (16, 120) '
        '...: another num_bits ...? Give the config the checkpoint was '
        "trained with (was: mmengine's size-mismatch list, no file, no fix)",
        FIT + 'test_encode_tool_names_the_checkpoint_and_the_fix', 'fixed'),
    Row('retrieval', 'tools/retrieve.py: checkpoint other than the index\'s',
        'db.index.npz was encoded with checkpoint lenet16.pth (sha256 ...), '
        'but the checkpoint given is other16.pth ...; '
        '--allow-other-checkpoint searches anyway (was: no message, mAP '
        '0.81 fell to 0.54)', FIT + 'test_retrieve_refuses_a_checkpoint_'
        'other_than_the_index_s', 'fixed'),
    Row('retrieval', 'query index of another code length than the model',
        'db8.npz holds 8-bit codes but 16-bit codes were expected',
        R + 'test_retrieve_refuses_index_of_other_code_length', 'clear'),
    Row('retrieval', '--topk / --num-queries <= 0', '--topk must be a '
        "positive integer, got 0 (was: 'k must be ...' after loading the "
        'model, or silently nothing shown with --radius)',
        R + 'test_retrieve_refuses_nonpositive_topk', 'fixed'),
]


def counts():
    """(tried, clear, fixed)."""
    tried = len(ROWS)
    clear = sum(r.status in ('clear', 'fixed') for r in ROWS)
    return tried, clear, sum(r.status == 'fixed' for r in ROWS)


def summary() -> str:
    tried, clear, fixed = counts()
    return (f'**Bad-input matrix: {tried} cases tried, {clear} give a clear '
            f'error ({fixed} of them fixed in issues #10, #17 and #18), '
            f'{tried - clear} unclear.**')


def render() -> str:
    lines = [
        '# Reliability: the bad-input matrix',
        '',
        '<!-- Generated by `python tests/reliability/matrix.py` from '
        'matrix.py; test_matrix.py checks it. Do not edit by hand. -->',
        '',
        'Each row is a user mistake, the error it gets (abridged) and the '
        'test that makes it. *clear*: the error names the culprit (file, '
        'key or value) and what would be right; *fixed*: it did not before '
        'issue #10, #17 or #18. Guarantees beyond bad input (kill and '
        'resume, NaN losses, distributed faults, safe loading) are in '
        '[docs/reliability.md](../../docs/reliability.md).',
        '',
        summary(),
        '',
        '| input | case | error says | status | test |',
        '|---|---|---|---|---|',
    ]
    for r in ROWS:
        lines.append(f'| {r.input} | {r.case} | {r.message} | {r.status} '
                     f'| `{r.test}` |')
    lines.append('')
    for kind in sorted({r.input for r in ROWS}):
        rows = [r for r in ROWS if r.input == kind]
        fixed = sum(r.status == 'fixed' for r in rows)
        lines.append(f'- {kind}: {len(rows)} tried, {len(rows)} clear '
                     f'({fixed} fixed)' if all(
                         r.status in ('clear', 'fixed') for r in rows) else
                     f'- {kind}: {len(rows)} tried')
    return '\n'.join(lines) + '\n'


README = osp.join(osp.dirname(osp.abspath(__file__)), 'README.md')

if __name__ == '__main__':
    with open(README, 'w') as f:
        f.write(render())
    print(summary(), file=sys.stderr)
