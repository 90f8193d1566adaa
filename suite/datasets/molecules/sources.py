"""Where the molecule datasets come from: the data mirror, official downloads, installed wheels.

Every loader ends in one of three ways: it reads the local mirror
(``SUITE_DATA_MIRROR``), it downloads from the official source (``urllib`` with a
timeout, checked against a SHA-256 constant) into the dataset cache, or it raises
``DatasetUnavailable`` with a one-line reason. Nothing here prompts or waits
without a timeout.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.util
import io
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from suite.core.files import atomic_write
from suite.core.paths import Paths, data_mirror
from suite.datasets.base import DatasetUnavailable
from suite.datasets.fetch import DOWNLOAD_TIMEOUT, download_dir, fetch_url
from suite.datasets.fetch import first_line as _first_line

GRAPHXAI_RAW = ("https://raw.githubusercontent.com/mims-harvard/GraphXAI/main/"
                "graphxai/datasets/real_world/")
MIRROR_DIR = "molecule-ground-truth"


@dataclass(frozen=True)
class MoleculeTable:
    """A published ``mol_id,smiles,label`` table.

    ``sha256`` is the digest of the *normalised* table (UTF-8 text
    ``"mol_id,smiles,label\\n"`` then one ``"{mol_id},{smiles},{int label}\\n"`` per
    row, in file order), so it does not depend on line endings, extra columns or
    ``1.0`` vs ``1`` labels: the official file (whose benzene version carries an
    extra ``mol`` column and float labels) and the mirror's copy give the same
    digest when their rows agree. Computed here from the mirror.
    """

    key: str
    mirror_file: str
    url: str
    sha256: str
    rows: int


GRAPHXAI_TABLES: dict[str, MoleculeTable] = {
    "benzene": MoleculeTable(
        "benzene", "benzene.csv", GRAPHXAI_RAW + "benzene/benzene_data/benzene_smiles.csv",
        "f04fd8d3f888d3b9ac10a5e752e8f162d81e4b87d4705a2b4081851f64ef952b", 12000),
    "fluoride-carbonyl": MoleculeTable(
        "fluoride-carbonyl", "fluoride_carbonyl.csv", GRAPHXAI_RAW + "fluoride_carbonyl/fc_data/FC_smiles.csv",
        "7c4d1863a2f6a026ef3dafc4c7f54519cdd75aa15ea1f298b08e64fa3b75d11d", 8671),
    "alkane-carbonyl": MoleculeTable(
        "alkane-carbonyl", "alkane_carbonyl.csv", GRAPHXAI_RAW + "alkane_carbonyl/ac_data/AC_smiles.csv",
        "7915107a397240cec3daf027d713db2bed107d19d9d941b6d36a4a334a5dfae8", 4326),
}

#: The published atom attributions (trusted pickled numpy files; only in the mirror).
ATTRIBUTION_FILES = {
    "benzene": "benzene_true_attributions.npz",
    "fluoride-carbonyl": "fluoride_carbonyl_true_attributions.npz",
    "alkane-carbonyl": "alkane_carbonyl_true_attributions.npz",
}


def normalise_table(raw: bytes) -> tuple[list[tuple[str, str, int]], str]:
    """Rows ``(mol_id, smiles, label)`` of a published CSV and the SHA-256 of their normal form."""
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
    missing = {"mol_id", "smiles", "label"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"missing columns {sorted(missing)}")
    rows = [(r["mol_id"], r["smiles"], int(float(r["label"]))) for r in reader]
    text = "mol_id,smiles,label\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
    return rows, hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_molecule_table(key: str) -> tuple[list[tuple[str, str, int]], str]:
    """The rows of published table ``key`` and a one-line note of where they came from.

    Order: the mirror when ``SUITE_DATA_MIRROR`` is set; else an earlier verified
    download in the dataset cache; else a download from the official URL (checked
    against the table's SHA-256). Raises ``DatasetUnavailable`` otherwise.
    """
    table = GRAPHXAI_TABLES[key]
    mirror = data_mirror()
    if mirror is not None:
        path = mirror / MIRROR_DIR / table.mirror_file
        if not path.is_file():
            raise DatasetUnavailable(f"{key}: the data mirror {mirror} has no {MIRROR_DIR}/{table.mirror_file}")
        rows, digest = normalise_table(path.read_bytes())
        if digest != table.sha256:
            raise DatasetUnavailable(f"{key}: {path} fails its SHA-256 check (got {digest[:12]}...)")
        return rows, f"mirror {path}"
    cached = download_dir() / "graphxai" / table.mirror_file
    if cached.is_file():
        rows, digest = normalise_table(cached.read_bytes())
        if digest == table.sha256:
            return rows, f"download cache {cached}"
    try:
        raw = fetch_url(table.url)
    except Exception as exc:  # any network failure becomes the one-line reason
        raise DatasetUnavailable(
            f"{key}: no data mirror (SUITE_DATA_MIRROR unset) and the download of {table.url} "
            f"failed ({_first_line(exc)})") from None
    try:
        rows, digest = normalise_table(raw)
    except (UnicodeDecodeError, ValueError, KeyError) as exc:
        raise DatasetUnavailable(f"{key}: {table.url} is not the expected CSV ({_first_line(exc)})") from None
    if digest != table.sha256:
        raise DatasetUnavailable(f"{key}: {table.url} fails its SHA-256 check (got {digest[:12]}..., "
                                 f"expected {table.sha256[:12]}...)")
    text = "mol_id,smiles,label\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
    atomic_write(cached, text)
    return rows, f"downloaded {table.url}"


def attribution_path(key: str) -> Path | None:
    """The mirror's published attribution file for ``key``, or None without a mirror."""
    mirror = data_mirror()
    if mirror is None:
        return None
    path = mirror / MIRROR_DIR / ATTRIBUTION_FILES[key]
    return path if path.is_file() else None


# ----------------------------------------------------------------------------- wheels


def package_dir(package: str, pip_name: str, what: str) -> Path:
    """The install directory of ``package`` (found without importing it)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailable(f"{what} needs the `{pip_name}` package (pip install {pip_name})")
    return Path(list(spec.submodule_search_locations)[0])


def wheel_file(package: str, pip_name: str, relative: str, what: str) -> Path:
    """A data file shipped inside an installed wheel."""
    path = package_dir(package, pip_name, what) / relative
    if not path.is_file():
        raise DatasetUnavailable(f"{what}: {pip_name} is installed but has no {relative}")
    return path


def b3db_classification_file() -> Path:
    return wheel_file("B3DB", "qc-b3db", "B3DB_classification.tsv", "b3db")


def rdkit_data_file(relative: str, what: str) -> Path:
    """A file under RDKit's data directory (``rdkit/Data``)."""
    from rdkit import RDConfig

    path = Path(RDConfig.RDDataDir) / relative
    if not path.is_file():
        raise DatasetUnavailable(f"{what}: this RDKit build has no Data/{relative}")
    return path


MUTAG_FILES = ("A", "graph_indicator", "graph_labels", "node_labels", "edge_labels")


def mutag_raw_dir() -> Path:
    """The TU MUTAG text files shipped in the grakel wheel (``grakel/tests/data/MUTAG``)."""
    folder = package_dir("grakel", "grakel", "mutag") / "tests" / "data" / "MUTAG"
    missing = [name for name in MUTAG_FILES if not (folder / f"MUTAG_{name}.txt").is_file()]
    if missing:
        raise DatasetUnavailable(f"mutag: grakel is installed but {folder} lacks MUTAG_{missing[0]}.txt")
    return folder


def load_tu_mutag():
    """PyG's ``TUDataset('MUTAG')`` read offline from grakel's copy.

    The raw files are copied into ``<dataset cache>/tu/MUTAG/raw`` (never into the
    repository), where ``TUDataset`` finds them and so never downloads.
    """
    from torch_geometric.datasets import TUDataset

    source = mutag_raw_dir()
    root = Paths.from_env().dataset_cache / "tu"
    raw = root / "MUTAG" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in MUTAG_FILES:
        target = raw / f"MUTAG_{name}.txt"
        if not target.is_file() or target.stat().st_size != (source / target.name).stat().st_size:
            shutil.copyfile(source / target.name, target)
    with _pyg_safe_globals():  # PyG would warn and fall back to an unsafe load otherwise
        return TUDataset(str(root), "MUTAG")


# ----------------------------------------------------------------------------- OGB


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """OGB's downloader calls ``urlopen`` without a timeout: bound every socket meanwhile."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _pyg_safe_globals():
    """Allow PyG's ``Data`` classes in ``torch.load`` while OGB reads its own processed file.

    OGB 1.3.6 calls ``torch.load`` without ``weights_only``; since torch 2.6 that
    defaults to ``True`` and refuses the pickled ``Data`` OGB itself wrote into our
    cache. Allow-listing exactly PyG's data classes keeps the safe loader.
    """
    safe_globals = getattr(torch.serialization, "safe_globals", None)
    if safe_globals is None:  # torch < 2.5: weights_only defaults to False anyway
        return contextlib.nullcontext()
    from torch_geometric.data.data import Data, DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    return safe_globals([Data, DataEdgeAttr, DataTensorAttr, GlobalStorage])


def _ogb_dir_ok(path: Path) -> bool:
    return any(path.glob("RELEASE_v*.txt"))


def load_ogb_graphprop(name: str):
    """``ogb.graphproppred.PygGraphPropPredDataset(name)`` under ``<dataset cache>/ogb``.

    OGB downloads its zip on first use (its own ``download_url``). Offline this
    fails and becomes ``DatasetUnavailable``. A partial folder left by a failed
    attempt is removed first (OGB would otherwise *prompt* to update it), and
    sockets get a timeout for the duration (OGB sets none).
    """
    try:
        from ogb.graphproppred import PygGraphPropPredDataset
    except ImportError:  # pragma: no cover - ogb is a dependency
        raise DatasetUnavailable(f"{name} needs the `ogb` package (pip install ogb)") from None
    root = Paths.from_env().dataset_cache / "ogb"
    folder = root / name.replace("-", "_")
    for candidate in (folder, folder.with_name(folder.name + "_pyg")):
        if candidate.is_dir() and not _ogb_dir_ok(candidate):
            shutil.rmtree(candidate)  # a partial download: OGB would ask before replacing it
    root.mkdir(parents=True, exist_ok=True)
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT), _pyg_safe_globals():
            return PygGraphPropPredDataset(name=name, root=str(root))
    except (Exception, SystemExit) as exc:  # OGB calls exit(-1) when a download is declined
        for candidate in (folder, folder.with_name(folder.name + "_pyg")):
            if candidate.is_dir() and not _ogb_dir_ok(candidate):
                shutil.rmtree(candidate, ignore_errors=True)
        raise DatasetUnavailable(f"{name}: OGB could not download or read it into {root} "
                                 f"({_first_line(exc)})") from None
