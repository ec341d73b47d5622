"""`python -m puffin.deep.launch` checks its environment and --out before training: a stray RANK, a rank outside the job,
a --out that is a file or sits in a missing folder end in a usage error (exit 2) naming the variable or flag, with nothing
trained or written. (The torchrun runs themselves are in test_distributed.py.)"""
import os, re, subprocess, sys, time
from pathlib import Path
import pytest, torch
from puffin.deep import launch
from puffin.deep.launch import main, _parse_args

TINY = ['--rows', '60', '--features', '4', '--latent', '2', '--hidden', '8', '--epochs', '1', '--batch-size', '16']
TORCHRUN = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')

@pytest.fixture
def no_job(monkeypatch):
    "No torchrun variables (a developer's shell may hold some), and a `fit` that fails the test if training starts."
    for k in TORCHRUN: monkeypatch.delenv(k, raising=False)
    def fit(*args, **kw): raise AssertionError('trained before refusing')
    monkeypatch.setattr(launch.AETrainer, 'fit', fit)
    return monkeypatch

def _usage_error(capsys, flags, *contains):
    with pytest.raises(SystemExit) as e: main(flags)
    err = capsys.readouterr().err
    assert e.value.code == 2 and all(c in err for c in contains), err

def test_stray_rank_is_refused_before_training(tmp_path):
    "RANK=3 without torchrun used to train, write nothing, print nothing and exit 0."
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN} | dict(RANK='3', PYTHONPATH=str(Path(launch.__file__).parents[2]), OMP_NUM_THREADS='1')
    start = time.perf_counter()
    res = subprocess.run([sys.executable, '-m', 'puffin.deep.launch', *TINY, '--out', str(tmp_path/'out')], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert 'RANK=3 with WORLD_SIZE=unset' in res.stderr and 'torchrun' in res.stderr, res.stderr
    assert not (tmp_path/'out').exists() and res.stdout == ''
    assert time.perf_counter() - start < 60

@pytest.mark.parametrize('env, contains', [
    (dict(RANK='3'), 'RANK=3 with WORLD_SIZE=unset'),
    (dict(RANK='2', WORLD_SIZE='2', MASTER_ADDR='127.0.0.1', MASTER_PORT='29500'), 'RANK=2 with WORLD_SIZE=2'),
    (dict(RANK='-1', WORLD_SIZE='2', MASTER_ADDR='127.0.0.1', MASTER_PORT='29500'), 'RANK=-1'),
    (dict(RANK='../../x', WORLD_SIZE='2'), "RANK='../../x'"),   # it used to go into the --dump-ranks file name
    (dict(WORLD_SIZE='two'), "WORLD_SIZE='two'"),
    (dict(WORLD_SIZE='0'), 'WORLD_SIZE=0'),
    (dict(RANK='0', WORLD_SIZE='2'), 'without MASTER_ADDR and MASTER_PORT'),
    (dict(RANK='1', WORLD_SIZE='2', MASTER_ADDR='127.0.0.1'), 'without MASTER_PORT'),
])
def test_torchrun_variables_are_checked(no_job, capsys, env, contains):
    for k, v in env.items(): no_job.setenv(k, v)
    _usage_error(capsys, TINY, contains)

def test_out_is_checked_before_training(no_job, capsys, tmp_path):
    (tmp_path/'model.pt').write_bytes(b'a file')
    _usage_error(capsys, [*TINY, '--out', str(tmp_path/'model.pt')], '--out', 'is a file')
    _usage_error(capsys, [*TINY, '--out', str(tmp_path/'missing'/'run1')], '--out', f"the folder {tmp_path/'missing'} does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ['model.pt']   # nothing created

def test_rank_zero_alone_and_a_full_job_env_parse(no_job):
    test = lambda: _parse_args(TINY).rank
    assert test() == 0
    no_job.setenv('RANK', '0'); assert test() == 0   # RANK=0 alone is a one-process job
    for k, v in dict(RANK='1', WORLD_SIZE='2', MASTER_ADDR='127.0.0.1', MASTER_PORT='29500').items(): no_job.setenv(k, v)
    assert test() == 1

def test_outputs_written_whole_into_a_new_folder(tmp_path, monkeypatch):
    "A one-process run creates --out (its parent exists) and writes model.pt, history.json and rank0.pt, with no temporary file left."
    for k in TORCHRUN: monkeypatch.delenv(k, raising=False)
    out = tmp_path/'run1'
    main([*TINY, '--out', str(out), '--dump-ranks'])
    assert sorted(p.name for p in out.iterdir()) == ['history.json', 'model.pt', 'rank0.pt']
    assert torch.load(out/'rank0.pt', weights_only=True).keys() == torch.load(out/'model.pt', weights_only=True)['state_dict'].keys()
    main([*TINY, '--out', str(out), '--seed', '1'])   # a second run replaces the files
    assert sorted(p.name for p in out.iterdir()) == ['history.json', 'model.pt', 'rank0.pt']


def test_usage_errors_exit_2_before_training(tmp_path, monkeypatch, no_job):
    "Bad flags end in a usage error (exit 2, as argparse gives, not a traceback) that names the flag; moved from the launch page."
    import contextlib, io
    (tmp_path/'history.json').write_text('{}')
    def refused(flags, msg):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e: _parse_args(flags)
        assert e.value.code == 2 and msg in err.getvalue(), err.getvalue()
    for flags, msg in [(['--rows', '0'], "--rows"), (['--validation-split', '1'], "--validation-split"), (['--seed', '99999999999999999999'], "--seed"),
                       (['--rows', '1'], "--rows 1 with --validation-split 0.2"), (['--device', 'gpu'], "--device")]:
        refused(flags, msg)
    refused(['--out', str(tmp_path/'history.json')], '--out'); refused(['--out', str(tmp_path/'no'/'such')], '--out')
    job = dict(RANK='0', WORLD_SIZE='2', MASTER_ADDR='127.0.0.1', MASTER_PORT='29500')   # as torchrun sets them
    for k, v in job.items(): monkeypatch.setenv(k, v)
    refused(['--batch-size', '1'], "--batch-size")
    monkeypatch.setenv('RANK', '3'); refused([], 'RANK')

def test_help_shows_every_default(capsys):
    "ArgumentDefaultsHelpFormatter prints a default only for options with help text: --rows .. --seed had none, so --help hid 200000 and the rest."
    with pytest.raises(SystemExit) as e: _parse_args(['--help'])
    assert e.value.code == 0
    options = capsys.readouterr().out.split('options:')[1]
    entries = {seg.split()[0]: ' '.join(seg.split()) for seg in re.split(r'\n  (?=-)', options) if seg.strip()}   # one entry per option, lines joined
    for flag, default in [('--rows', '200000'), ('--features', '100'), ('--latent', '20'), ('--hidden', '[256, 128]'), ('--epochs', '3'),
                          ('--batch-size', '256'), ('--lr', '0.001'), ('--seed', '0'), ('--validation-split', '0.2'), ('--device', 'cpu')]:
        assert f'(default: {default})' in entries[flag], entries.get(flag)
