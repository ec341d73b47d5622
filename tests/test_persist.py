"""Saving never destroys the previous good file (a killed, failed or racing save leaves one whole file), and a crafted
or malformed file is refused with `FileFormatError` naming the path, before any model is built from it."""
import configparser, multiprocessing as mp, os, random, re, signal, stat, time
from pathlib import Path
import numpy as np, pytest, torch
from sklearn.preprocessing import StandardScaler
from puffin.deep.model import VAE
from puffin.deep import persist
from puffin.deep.persist import FileFormatError, save_model, load_model, load_history, save_scaler, load_scaler
from puffin.deep.generative import LikelihoodVAE, save_generative, load_generative
from puffin.anomaly import VAEAnomalyDetector

FORK = mp.get_context('fork') if 'fork' in mp.get_all_start_methods() else None   # a child that shares the parent's imports starts in milliseconds
needs_fork = pytest.mark.skipif(FORK is None, reason='needs fork (Linux, macOS)')

def _big(seed: int) -> VAE:
    "A VAE of about 9 MB on disk, so a save takes long enough to be killed in the middle of it."
    torch.manual_seed(seed); return VAE(400, 8, hidden_dims=[1500, 400])

def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)

def _others(folder: Path, keep: str) -> list[str]:
    "Names in `folder` other than `keep` and the hidden temporary files of killed saves."
    return [p.name for p in folder.iterdir() if p.name != keep and not re.fullmatch(rf'\.{re.escape(keep)}\.[0-9a-f]+\.tmp', p.name)]

def _save_forever(path: str, seed: int, ready):
    model = _big(seed); ready.set()
    while True: save_model(model, path)

@needs_fork
def test_killed_save_leaves_old_or_new(tmp_path):
    "A child saving a 9 MB model in a loop is killed (SIGKILL) after a random delay, 12 times: the file always loads, as the old model or the new one."
    old, new, path = _big(0), _big(1), tmp_path/'model.pt'
    save_model(old, path)
    rng, seen = random.Random(0), []
    for _ in range(12):
        ready = FORK.Event(); child = FORK.Process(target=_save_forever, args=(str(path), 1, ready)); child.start()
        assert ready.wait(30)
        time.sleep(rng.uniform(0.02, 0.25)); os.kill(child.pid, signal.SIGKILL); child.join()
        back = load_model(path)   # the old code: 'not a readable puffin model file' in some of the tries
        assert _same(back, old) or _same(back, new)
        seen.append('new' if _same(back, new) else 'old')
    assert _others(tmp_path, 'model.pt') == [], _others(tmp_path, 'model.pt')
    assert 'new' in seen, seen   # the children did get saves through

def _race(path: str, seed: int, start, done, n: int):
    model = _big(seed)
    for _ in range(n): start.wait(30); save_model(model, path); done.wait(30)   # both start every save at the same moment

@needs_fork
def test_racing_saves_leave_one_whole_model(tmp_path):
    "Two processes save different models to one path at the same moment, 10 times: after each pair the file is exactly one of the two models, never a mix."
    a, b, path, n = _big(0), _big(1), tmp_path/'model.pt', 10
    start, done = FORK.Barrier(3), FORK.Barrier(3)   # the two writers and this process, which checks the file after each pair
    kids = [FORK.Process(target=_race, args=(str(path), s, start, done, n)) for s in (0, 1)]
    for k in kids: k.start()
    try:
        for _ in range(n):
            start.wait(30); done.wait(30)
            back = load_model(path)   # the old code: in most runs, a model mixing the two's tensors (or an unreadable file)
            assert _same(back, a) or _same(back, b)
            assert _others(tmp_path, 'model.pt') == []   # both saves finished: no temporary file is left
    finally:
        for k in kids: k.kill(); k.join()

@pytest.fixture
def old_model(tmp_path):
    torch.manual_seed(0); m = VAE(6, 2, hidden_dims=[8]); return m, save_model(m, tmp_path/'m.pt')

def _half_then(exc):
    "A stand-in for torch.save that writes part of a file, then fails as a full disk (or an interrupt) does."
    def save(obj, f, *args, **kw):
        if isinstance(f, (str, os.PathLike)): f = open(f, 'wb')   # torch.save given a path truncates it first
        f.write(b'PK\x03\x04 half a file'); f.flush(); raise exc
    return save

@pytest.mark.parametrize('exc', [OSError(28, 'No space left on device'), KeyboardInterrupt()])
def test_failed_write_keeps_old_file(old_model, tmp_path, monkeypatch, exc):
    m, path = old_model
    monkeypatch.setattr(torch, 'save', _half_then(exc))
    with pytest.raises(type(exc)): save_model(VAE(6, 3, hidden_dims=[8]), path)
    monkeypatch.undo()
    assert _same(load_model(path), m) and sorted(p.name for p in tmp_path.iterdir()) == ['m.pt']   # the old file, no temporary file

def test_failed_fsync_keeps_old_file(old_model, tmp_path, monkeypatch):
    m, path = old_model
    def fsync(fd): raise OSError(5, 'Input/output error')
    monkeypatch.setattr(os, 'fsync', fsync)
    with pytest.raises(OSError, match='Input/output'): save_model(VAE(6, 3, hidden_dims=[8]), path)
    monkeypatch.undo()
    assert _same(load_model(path), m) and sorted(p.name for p in tmp_path.iterdir()) == ['m.pt']

def _fsyncs(monkeypatch) -> list[tuple[str, int]]:
    "Record what each `os.fsync` flushes, in order: ('folder' or 'file', its inode)."
    done, real = [], os.fsync
    def fsync(fd):
        st = os.fstat(fd); done.append(('folder' if stat.S_ISDIR(st.st_mode) else 'file', st.st_ino)); real(fd)
    monkeypatch.setattr(os, 'fsync', fsync)
    return done

def test_save_flushes_the_file_then_its_folder(tmp_path, monkeypatch):
    "The rename is made durable too: after the temporary file is flushed and renamed over `path`, the folder holding it is flushed."
    done = _fsyncs(monkeypatch)
    path = save_model(VAE(6, 2, [8]), tmp_path/'m.pt')
    assert done == [('file', path.stat().st_ino), ('folder', tmp_path.stat().st_ino)], done   # the renamed file keeps the temporary file's inode

def test_save_works_where_a_folder_cannot_be_opened(tmp_path, monkeypatch):
    "Windows cannot open a folder (PermissionError): the folder's flush is skipped, the save itself goes through."
    real = os.open
    def open_(path, flags, *args, **kw):
        if os.path.isdir(path): raise PermissionError(13, 'Permission denied', str(path))
        return real(path, flags, *args, **kw)
    monkeypatch.setattr(os, 'open', open_)
    done = _fsyncs(monkeypatch)
    torch.manual_seed(0); m = VAE(6, 2, [8])
    path = save_model(m, tmp_path/'m.pt')
    assert [kind for kind, _ in done] == ['file'], done
    monkeypatch.undo()
    assert _same(load_model(path), m) and sorted(p.name for p in tmp_path.iterdir()) == ['m.pt']

def test_save_works_where_a_folder_cannot_be_flushed(tmp_path, monkeypatch):
    "Some file systems open a folder but refuse to flush it (EINVAL): the rename already stands, so the save returns normally."
    real = os.fsync
    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode): raise OSError(22, 'Invalid argument')
        real(fd)
    monkeypatch.setattr(os, 'fsync', fsync)
    torch.manual_seed(0); m = VAE(6, 2, [8])
    path = save_model(m, tmp_path/'m.pt')
    monkeypatch.undo()
    assert _same(load_model(path), m) and sorted(p.name for p in tmp_path.iterdir()) == ['m.pt']

def _fitted_detector():
    X = np.random.default_rng(0).standard_normal((60, 4))
    return VAEAnomalyDetector(latent_dim=2, hidden_dims=[8], epochs=1, batch_size=32).fit(X)

def test_every_writer_replaces_atomically(tmp_path, monkeypatch):
    "save_model, save_generative, save_scaler and VAEAnomalyDetector.save all go through the one atomic write: a failing save leaves each old file whole."
    torch.manual_seed(0)
    X = np.random.default_rng(0).standard_normal((20, 6))
    writers = {'model': (lambda p: save_model(VAE(6, 2, [8]), p), load_model),
               'generative': (lambda p: save_generative(LikelihoodVAE(6, 2, [8]), p), load_generative),
               'scaler': (lambda p: save_scaler(StandardScaler().fit(X), p), load_scaler),
               'detector': (lambda p: _fitted_detector().save(p), VAEAnomalyDetector.load)}
    for name, (write, read) in writers.items():
        path = tmp_path/f'{name}.pt'; write(path); before = path.read_bytes()
        monkeypatch.setattr(torch, 'save', _half_then(OSError(28, 'No space left on device')))
        with pytest.raises(OSError): write(path)
        monkeypatch.undo()
        assert path.read_bytes() == before, name
        read(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f'{n}.pt' for n in writers)

def test_new_file_has_the_usual_permissions(tmp_path):
    "The temporary file is not private (as tempfile.mkstemp's would be): the saved file gets what `open` would give it."
    umask = os.umask(0); os.umask(umask)
    path = save_model(VAE(6, 2, [8]), tmp_path/'m.pt')
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask

def _link(link: Path, target: str):
    try: os.symlink(target, link)
    except (OSError, NotImplementedError): pytest.skip('this system cannot make symbolic links here')

def test_save_through_a_link_replaces_the_file_it_points_at(tmp_path):
    "`latest.pt -> runs/run1.pt`: a save writes run1.pt and the link stays, as `open(path, 'wb')` and `torch.save` would (it used to replace the link with a plain file and leave run1.pt old)."
    (tmp_path/'runs').mkdir(); save_model(VAE(5, 2), tmp_path/'runs'/'run1.pt')
    _link(tmp_path/'latest.pt', os.path.join('runs', 'run1.pt'))                     # a relative link, as `ln -s` makes
    torch.manual_seed(0); new = VAE(5, 7)
    written = save_model(new, tmp_path/'latest.pt')
    assert written == tmp_path/'latest.pt'                                           # the path asked for, not the target
    assert (tmp_path/'latest.pt').is_symlink() and os.readlink(tmp_path/'latest.pt') == os.path.join('runs', 'run1.pt')
    assert _same(load_model(tmp_path/'runs'/'run1.pt'), new)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['latest.pt', 'runs'] and [p.name for p in (tmp_path/'runs').iterdir()] == ['run1.pt']
    save_scaler(StandardScaler().fit(np.eye(3)), tmp_path/'latest.pt')                # every writer: the shared atomic write
    assert (tmp_path/'latest.pt').is_symlink() and load_scaler(tmp_path/'runs'/'run1.pt').n_features_in_ == 3

def test_save_through_a_dangling_link(tmp_path):
    "A link to a file not there yet: written where it points when that folder exists (as `open` would); refused, naming `path` and the missing folder, when it does not."
    (tmp_path/'runs').mkdir(); _link(tmp_path/'next.pt', str(tmp_path/'runs'/'run2.pt'))
    torch.manual_seed(0); m = VAE(5, 2)
    save_model(m, tmp_path/'next.pt')
    assert (tmp_path/'next.pt').is_symlink() and _same(load_model(tmp_path/'runs'/'run2.pt'), m)
    _link(tmp_path/'lost.pt', str(tmp_path/'gone'/'run3.pt'))
    with pytest.raises(FileNotFoundError, match=r'`path` .*lost\.pt.*gone.* does not exist'): save_model(m, tmp_path/'lost.pt')
    assert not (tmp_path/'gone').exists() and (tmp_path/'lost.pt').is_symlink()

@pytest.mark.skipif(os.name != 'posix', reason='Windows files have a read-only flag, not permission bits')
@pytest.mark.parametrize('mode', [0o600, 0o640, 0o444])
def test_resave_keeps_the_files_permissions(tmp_path, mode):
    "Re-saving over a file keeps its permission bits (a 0600 file used to become 0644); a read-only file is still replaced, as before, and stays read-only."
    path = save_model(VAE(5, 2), tmp_path/'m.pt'); os.chmod(path, mode)
    torch.manual_seed(0); new = VAE(5, 3)
    save_model(new, path)
    assert stat.S_IMODE(path.stat().st_mode) == mode and _same(load_model(path), new)
    _link(tmp_path/'link.pt', 'm.pt'); save_model(VAE(5, 2), tmp_path/'link.pt')      # through a link: the target's bits
    assert stat.S_IMODE(path.stat().st_mode) == mode

@pytest.mark.parametrize('writer', ['model', 'generative', 'scaler', 'detector'])
def test_every_writer_refuses_a_bytes_path(tmp_path, writer):
    "A bytes path: the loaders' own TypeError naming `path` (it was pathlib's 'argument should be a str or an os.PathLike object ... not bytes')."
    write = {'model': lambda p: save_model(VAE(6, 2, [8]), p), 'generative': lambda p: save_generative(LikelihoodVAE(6, 2, [8]), p),
             'scaler': lambda p: save_scaler(StandardScaler().fit(np.eye(3)), p), 'detector': lambda p: _fitted_detector().save(p)}[writer]
    with pytest.raises(TypeError, match=r'^`path` must be a file path \(str or Path\), got bytes$'): write(bytes(tmp_path/'x.pt'))
    assert list(tmp_path.iterdir()) == []

# ---- crafted and malformed files ---------------------------------------------------------------------------------

def _payload(**changes) -> dict:
    torch.manual_seed(0); m = VAE(6, 2, hidden_dims=[8])
    d = dict(format='puffin-model', version=1, kind='VAE', config=m.config, dtype='float32', state_dict=m.state_dict(), history=None)
    return {k: v for k, v in (d | changes).items() if v is not _DROP}

_DROP = object()

def _refused(path: Path, contains: str, load=load_model):
    with pytest.raises(FileFormatError) as e: load(path)
    assert str(path) in str(e.value) and contains in str(e.value), str(e.value)
    assert isinstance(e.value, ValueError)

_HUGE = dict(input_dim=2000, latent_dim=2, hidden_dims=[20000, 20000])   # 880,202,004 parameters: 3.5 GB of float32 weights

def _dummies(names) -> dict: return {k: torch.zeros(1) for k in names}

@pytest.mark.parametrize('weights, contains', [
    ({}, '(2 hidden layers, 0 weights)'),                                                   # refused by the count, before any model is built
    (_dummies(f'w{i}' for i in range(3)), "missing ['encoder.0.weight'"),                  # the page's file: refused by the `meta` model's names
    (_dummies(VAE(2, 2, [2, 2]).state_dict()), 'encoder.0.weight (1,) for (20000, 2000)'),  # the right names: refused by the `meta` model's shapes
])
def test_crafted_huge_config_fails_fast_without_allocating(tmp_path, weights, contains):
    "A file of a few KB asking for a 2000 -> 20000 -> 20000 VAE (3.5 GB of float32 weights) and holding none of them: refused in well under a second, nothing allocated, whichever check catches it."
    resource = pytest.importorskip('resource')   # the process's peak memory (Unix)
    path = tmp_path/'crafted.pt'
    torch.save(_payload(config=_HUGE, state_dict=weights), path)
    assert path.stat().st_size < 6000
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KB on Linux: the peak so far
    start = time.perf_counter()
    _refused(path, contains)
    assert time.perf_counter() - start < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 200_000   # the old code reached a 3.5 GB peak here

def test_crafted_config_with_weights_of_another_shape(tmp_path):
    m = VAE(6, 2, hidden_dims=[8])
    torch.save(_payload(config=dict(input_dim=6, latent_dim=2, hidden_dims=[5000]), state_dict=m.state_dict()), tmp_path/'f.pt')
    _refused(tmp_path/'f.pt', 'do not fit its config')

@pytest.mark.parametrize('name, changes, contains', [
    ('unknown_key', dict(config=dict(input_dim=6, latent_dim=2, hidden_dims=[8], colour='red')), "does not build a VAE"),   # was TypeError
    ('bad_value', dict(config=dict(input_dim=-6, latent_dim=2, hidden_dims=[8])), 'does not build a VAE'),
    ('not_a_dict', dict(config=[6, 2]), 'not a dict of constructor arguments'),
    ('no_config', dict(config=_DROP), 'has no `config`'),                                                                   # was KeyError
    ('no_weights', dict(state_dict=_DROP), 'has no `state_dict`'),
    ('empty_weights', dict(state_dict={}), 'do not fit its config'),                                                         # was RuntimeError
    ('extra_weight', dict(state_dict=_payload()['state_dict'] | {'spy': torch.ones(1)}), "unexpected ['spy']"),
    ('wrong_shape', dict(state_dict=_payload()['state_dict'] | {'fc_mu.bias': torch.ones(3)}), 'fc_mu.bias (3,) for (2,)'),
    ('not_tensors', dict(state_dict={'fc_mu.bias': [0.0, 1.0]}), 'not a dict of tensors'),
    ('dtype', dict(dtype='float16'), "parameters are 'float16'"),
    ('no_kind', dict(kind=_DROP), 'not a puffin model file'),
    ('dtype_list', dict(dtype=['float32']), "parameters are ['float32']"),
    ('many_layers', dict(config=dict(input_dim=6, latent_dim=2, hidden_dims=[1] * 20000)), '(20000 hidden layers, 10 weights)'),   # 41 KB: 5 s to build even on `meta`
])
def test_malformed_model_file(tmp_path, name, changes, contains):
    path = tmp_path/f'{name}.pt'
    torch.save(_payload(**changes), path)
    _refused(path, contains)

@pytest.mark.parametrize('history', ['{"loss": [1, 2', 5, ['a']])
def test_bad_history_text(tmp_path, history):
    "History that is not JSON text: FileFormatError (was JSONDecodeError / TypeError)."
    torch.save(_payload(history=history), tmp_path/'h.pt')
    _refused(tmp_path/'h.pt', 'history is not JSON text', load=load_history)
    load_model(tmp_path/'h.pt')   # the weights themselves are fine

def test_unreadable_files(tmp_path):
    good = save_model(VAE(6, 2, [8]), tmp_path/'good.pt')
    (tmp_path/'cut.pt').write_bytes(good.read_bytes()[:len(good.read_bytes()) // 3])   # what a full disk used to leave
    (tmp_path/'text.pt').write_text('hello\n'); (tmp_path/'empty.pt').write_bytes(b'')
    for name in ('cut.pt', 'text.pt', 'empty.pt'): _refused(tmp_path/name, 'not a readable puffin model file')
    torch.save(_payload(version=9), tmp_path/'new.pt'); _refused(tmp_path/'new.pt', 'newer than this puffin reads')

@pytest.mark.parametrize('version', [True, 0, -5, '2', 1.5, None])
def test_a_version_no_puffin_writes_is_damage_not_newer(tmp_path, version):
    "True, 0 and -5 used to load as version 1, and '2' was called newer ('upgrade puffin-vae'): each is a damaged file."
    torch.save(_payload(version=version), tmp_path/'v.pt')
    _refused(tmp_path/'v.pt', f'is damaged: its format version {version!r} is not')
    with pytest.raises(FileFormatError, match='upgrade puffin-vae'):                   # a real, larger version: a newer puffin wrote it
        torch.save(_payload(version=2), tmp_path/'v2.pt'); load_model(tmp_path/'v2.pt')

def test_crafted_generative_and_detector_files(tmp_path):
    "The other loaders build their models through the same check."
    path = save_generative(LikelihoodVAE(6, 2, [8]), tmp_path/'g.pt')
    d = torch.load(path, weights_only=True); d['config'] |= dict(hidden_dims=[20000, 20000], input_dim=2000)
    torch.save(d, path); _refused(path, 'do not fit its config', load=load_generative)
    path = _fitted_detector().save(tmp_path/'det.pt')
    d = torch.load(path, weights_only=True); d['model_config'] |= dict(hidden_dims=[20000, 20000])
    torch.save(d, path); _refused(path, 'do not fit its config', load=VAEAnomalyDetector.load)
    del d['state_dict']; torch.save(d, path); _refused(path, 'has no `state_dict`', load=VAEAnomalyDetector.load)

def test_malformed_scaler_file(tmp_path):
    path = save_scaler(StandardScaler().fit(np.arange(12.).reshape(6, 2)), tmp_path/'s.pt')
    d = torch.load(path, weights_only=True)
    torch.save(d | dict(fields={'mean_': [1.0, 2.0]}), path); _refused(path, 'statistics are not tensors', load=load_scaler)
    torch.save({k: v for k, v in d.items() if k != 'with_std'}, path); _refused(path, 'has no `with_std`', load=load_scaler)

def test_torch_floor_closes_weights_only_bypasses():
    "torch below 2.6 (CVE-2025-32434) and below 2.10 (CVE-2026-24747) can be made to run code from a weights-only load."
    cfg = configparser.ConfigParser(); cfg.read(Path(__file__).parents[1]/'settings.ini')
    floor = re.search(r'\btorch>=([\d.]+)', cfg['DEFAULT']['requirements']).group(1)
    assert tuple(map(int, floor.split('.'))) >= (2, 10), floor


def test_into_with_other_settings_names_them_and_the_way_out(tmp_path):
    "`into` built with another `beta` (a loss weight only) is still refused, but the message names the settings that differ and what to do, not two bare configs."
    save_model(VAE(6, 2, [8], beta=2.0), tmp_path / 'v.pt')
    with pytest.raises(ValueError, match=r"beta=2\.0 in the file, 0\.5 in `into`.*build it with the file's settings.*omit `into`") as e:
        load_model(tmp_path / 'v.pt', into=VAE(6, 2, [8], beta=0.5))
    assert 'latent_dim=' not in str(e.value)   # only what differs
    load_model(tmp_path / 'v.pt', into=VAE(6, 2, [8], beta=2.0))   # the file's settings: loads
