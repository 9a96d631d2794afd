"""Synthetic MEGA-PRESS data with known truth, for tests and benchmarks. Pure: no Django.

Files are written through `nifti_mrs` (the NIfTI-MRS standard's own library, which conjugates on
creation), never by a writer of ours, so every reader test sees the standard's convention.
Arrays here are in the working frame that library takes and gives (`nmrs[:]`): a line at p ppm is
a * exp(+2 pi i nu t), nu = (p - 4.65) * MHz, the receiver at the standard's 4.65 ppm.

Scans for tests and benchmarks (`independent_mega_scan`) come from MRSandbox's density-matrix
simulation (see below). The analytic peaks here (`Peak`, `fid`: Lorentzian exp(-t/T2) or Gaussian
exp(-2 pi^2 sigma^2 t^2) decay) serve the unit tests of single fit functions, and `press_scan`
the short-TE PRESS stage, simulated with our own basis (basis.py). With the first point halved, the
spectrum's area of a component in ppm units is a / (2 dwell MHz): `true_area` gives it, so a fit
can be checked against an exact number. ON = base + 2E and OFF = base, so
DIFF = (ON - OFF) / 2 = E holds the edited GABA+ and Glx; SUM = base + E.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WATER_PPM = 4.68  # where water sits
RECEIVER_PPM = 4.65  # the receiver (the standard's SpecFreqChemShift for 1H)


@dataclass(frozen=True)
class Peak:
    ppm: float
    amplitude: float
    width_hz: float  # Lorentzian FWHM or Gaussian FWHM
    shape: str = "lorentz"  # or "gauss"


# Uncoupled approximations of the in-vivo peaks (amplitudes in arbitrary units, ~3 T pgACC).
BASE_PEAKS = (
    Peak(2.008, 12.0, 5.0),  # NAA
    Peak(3.027, 9.0, 5.0),  # tCr (CH3)
    Peak(3.913, 7.0, 5.5),  # tCr (CH2)
    Peak(3.185, 7.0, 5.0),  # tCho
    Peak(2.35, 2.0, 12.0, "gauss"),  # Glu/Gln C4 (not edited here)
    Peak(3.72, 2.5, 14.0, "gauss"),  # Glx in the OFF spectrum
)


def gaba_peaks(gaba: float) -> tuple[Peak, ...]:
    return (Peak(3.02, gaba, 14.0, "gauss"),)


def glx_peaks(glx: float) -> tuple[Peak, ...]:
    return (Peak(3.71, glx / 2, 9.0, "gauss"), Peak(3.79, glx / 2, 9.0, "gauss"))


@dataclass
class Scan:
    metab: np.ndarray  # (edit=2 [ON, OFF], dyn, coils, points)
    water: np.ndarray  # (1, dyn, coils, points)
    dwell_s: float
    mhz: float
    truth: dict[str, float] = field(default_factory=dict)
    drift_hz: np.ndarray | None = None


def coil_sensitivities(rng: np.random.Generator, n_coils: int) -> np.ndarray:
    """Complex receive sensitivities (one coil: 1)."""
    if n_coils == 1:
        return np.ones(1)
    return rng.normal(1, 0.3, n_coils) * np.exp(1j * rng.uniform(-np.pi, np.pi, n_coils))


def water_reference(sens: np.ndarray, t: np.ndarray, mhz: float, amplitude: float) -> np.ndarray:
    """Unsuppressed water, (1, 1, coils, points), 6 Hz Lorentzian at the receiver frequency."""
    water_fid = fid((Peak(WATER_PPM, amplitude, 6.0),), t, mhz)
    return np.broadcast_to(sens[None, None, :, None] * water_fid, (1, 1, len(sens), len(t))).copy()


def fid(peaks: tuple[Peak, ...], t: np.ndarray, mhz: float, shift_hz: float = 0.0) -> np.ndarray:
    out = np.zeros_like(t, dtype=np.complex128)
    for p in peaks:
        nu = (p.ppm - RECEIVER_PPM) * mhz + shift_hz
        if p.shape == "gauss":
            sigma = p.width_hz / 2.3548
            decay = np.exp(-2 * np.pi**2 * sigma**2 * t**2)
        else:
            decay = np.exp(-np.pi * p.width_hz * t)
        out += p.amplitude * np.exp(2j * np.pi * nu * t) * decay
    return out


def true_area(amplitude: float, dwell_s: float, mhz: float) -> float:
    """Area in ppm units of a component of time-domain amplitude `amplitude` in `spectrum()`:
    the one-sided transform integrates to half the first point."""
    return amplitude / (2 * dwell_s * mhz)


def write_nifti_mrs(
    path: str | Path,
    fids: np.ndarray,
    *,
    dims: tuple[str, ...],
    dwell_s: float,
    spectrometer_mhz: float = 123.25,
    echo_time_s: float = 0.068,
    repetition_time_s: float = 2.0,
    edit_conditions: tuple[str, ...] | None = ("ON", "OFF"),
) -> Path:
    """Write working-frame `fids` (points first, then `dims` in the given order) as NIfTI-MRS
    with the `nifti_mrs` library. `edit_conditions=None` leaves the edit dimension unlabelled."""
    from nifti_mrs.create_nmrs import gen_nifti_mrs_hdr_ext
    from nifti_mrs.hdr_ext import Hdr_Ext

    path = Path(path)
    data = np.asarray(fids).reshape((1, 1, 1, *fids.shape)).astype(np.complex64)
    header = Hdr_Ext(spectrometer_mhz, "1H", dimensions=data.ndim)
    for n, tag in enumerate(dims):
        hdr = {"EditCondition": list(edit_conditions)} if tag == "DIM_EDIT" and edit_conditions else None
        header.set_dim_info(n, tag, hdr=hdr)
    header.set_standard_def("EchoTime", echo_time_s)
    header.set_standard_def("RepetitionTime", repetition_time_s)
    image = gen_nifti_mrs_hdr_ext(data, dwell_s, header, affine=np.eye(4))
    image.save(str(path))
    # fslpy saves `x.nii` as `x.nii.gz` when its default output type says so: keep the name asked.
    return path if path.exists() else Path(str(image.dataSource))


def write_philips_sdat(
    sdat: str | Path,
    spar: str | Path,
    fids: np.ndarray,
    *,
    dwell_s: float,
    mhz: float,
    te_ms: float = 68.0,
    tr_ms: float = 2000.0,
) -> None:
    """Philips SDAT/SPAR pair (tests only): `fids` is (rows, points) in the working frame; VAX F
    floats. spec2nii conjugates an SDAT on reading to reach the standard's frame (its
    Philips/philips.py), and the standard's frame is the conjugate of the working one, so a
    scanner's SDAT holds the working-frame samples as they are."""
    rows, samples = fids.shape
    stored = np.asarray(fids).astype(np.complex64)
    pairs = np.empty(rows * samples * 2, dtype=np.float32)
    pairs[0::2], pairs[1::2] = stored.real.ravel(), stored.imag.ravel()
    # VAX F = IEEE single scaled by 4 (exponent bias 128, hidden bit 0.1), 16-bit words swapped.
    words = (pairs * 4).astype(">f4").view(np.uint8).reshape(-1, 2)[:, ::-1]
    Path(sdat).write_bytes(words.tobytes())
    header = {
        "examination_name": "'synthetic'",
        "scan_id": "'MEGA'",
        "scan_date": "2026.11.26 10:00:00",
        "patient_name": "'Synthetic^Person'",
        "patient_birth_date": "'19800101'",
        "patient_position": '"head_first"',
        "patient_orientation": '"supine"',
        "samples": samples,
        "rows": rows,
        "synthesizer_frequency": int(round(mhz * 1e6)),
        "offset_frequency": 0,
        "sample_frequency": int(round(1 / dwell_s)),
        "echo_nr": 1,
        "mix_number": 1,
        "nucleus": '"1H"',
        "t0_mu1_direction": 0,
        "echo_time": te_ms,
        "repetition_time": tr_ms,
        "averages": 1,
        "volume_selection_enable": '"no"',
        "spectrum_inversion_time": 0,
    }
    Path(spar).write_text(
        "!-- synthetic SPAR written by KetaTrial tests\n" + "".join(f"{k} : {v}\n" for k, v in header.items())
    )


PRESS_TRUTH = {
    "cr": 8.0,
    "cho": 2.0,
    "naa": 10.0,
    "glu": 9.0,
    "gln": 3.0,
    "mi": 6.0,
    "gaba": 1.0,
    "tau": 1.5,
    "lac": 0.5,
    "si": 0.3,
    "mm": 1.0,
}


def press_scan(
    *,
    truth: dict[str, float] | None = None,
    te_s: float = 0.030,
    n_dyn: int = 32,
    n_points: int = 2048,
    dwell_s: float = 1 / 2000,
    mhz: float = 123.25,
    n_coils: int = 1,
    noise: float = 0.0,
    drift_hz: float = 0.0,
    lorentz_hz: float = 2.0,
    gauss_hz: float = 5.0,
    water_amplitude: float = 20000.0,
    seed: int = 0,
) -> Scan:
    """Short-TE PRESS transients from the simulated basis (basis.py) with known amplitudes per
    molecule, a common Voigt lineshape, linear drift, coils and noise; `metab` is (1, dyn, coils,
    points). Noise is per transient (the average has noise / sqrt(n_dyn))."""
    from spectroscopy import basis as basis_module

    truth = dict(PRESS_TRUTH if truth is None else truth)
    basis = basis_module.press_basis(te_s=te_s, mhz=mhz, dwell_s=dwell_s, n_points=n_points)
    t = np.arange(n_points) * dwell_s
    shape = np.exp(-np.pi * lorentz_hz * t - (np.pi * gauss_hz * t) ** 2 / (4 * np.log(2)))
    # The basis puts the receiver at basis.WATER_PPM; files put it at the standard's 4.65 ppm.
    to_receiver = np.exp(2j * np.pi * (basis_module.WATER_PPM - RECEIVER_PPM) * mhz * t)
    signal = sum(truth[k] * basis[k] for k in truth) * shape * to_receiver
    rng = np.random.default_rng(seed)
    drift = np.linspace(0, drift_hz, n_dyn)
    sens = coil_sensitivities(rng, n_coils)
    metab = np.empty((1, n_dyn, n_coils, n_points), dtype=np.complex128)
    for d in range(n_dyn):
        metab[0, d] = sens[:, None] * (signal * np.exp(2j * np.pi * drift[d] * t))[None, :]
    if noise:
        metab += noise * (rng.normal(size=metab.shape) + 1j * rng.normal(size=metab.shape)) / np.sqrt(2)
    water = water_reference(sens, t, mhz, water_amplitude)
    return Scan(metab, water, dwell_s, mhz, truth, drift)


# --- independent physics: MRSandbox's density-matrix MEGA-PRESS ----------------------------------
# benchmarks/independent/mega_basis_mrsandbox.nii.gz holds every spin system (metabolite,
# co-edited macromolecule chain, lipid, water) run through MRSandbox's MEGA-PRESS (a simulator
# this project did not write; make_mega_basis.py beside it regenerates it), stored by `nifti_mrs`.
# It is read here with `nifti_mrs` too, so neither the physics nor the file convention is ours.

INDEPENDENT_BASIS = (
    Path(__file__).resolve().parent.parent / "benchmarks" / "independent" / "mega_basis_mrsandbox.nii.gz"
)

# A pregenual ACC at 3 T, mM (de Graaf 2019 and Govindaraju 2000 ranges); macromolecule chains in
# "mM of the chain": MM167 (the lysine chain whose 3.0 ppm protons co-edit under GABA) is set so
# that it makes about 45 % of GABA+ at GABA 2 mM, as MM does in vivo (Mikkelsen 2019).
BRAIN_MM: dict[str, float] = {
    "NAA": 10.0,
    "NAAG": 1.5,
    "Cr": 4.5,
    "PCr": 3.5,
    "GPC": 1.0,
    "PCho": 0.6,
    "Ins": 6.0,
    "sIns": 0.3,
    "Glu": 9.0,
    "Gln": 3.0,
    "GSH": 2.0,
    "GABA": 2.0,
    "Asp": 2.0,
    "Tau": 1.5,
    "Lac": 0.5,
    "Ala": 0.3,
    "PE": 1.0,
    "MM091": 4.0,
    "MM121": 3.0,
    "MM143": 3.0,
    "MM167": 2.2,
    "MM226": 4.0,
    "MM321": 3.0,
    "MM377": 4.0,
    "Lip09": 0.0,
    "Lip13": 0.0,
}
MM_GAUSS_PPM = {
    "MM091": 0.14,
    "MM121": 0.15,
    "MM143": 0.17,
    "MM167": 0.15,
    "MM226": 0.20,
    "MM321": 0.15,
    "MM377": 0.15,
    "Lip09": 0.12,
    "Lip13": 0.15,
}
TRUTH_WINDOWS = {"gaba_plus": (2.75, 3.25), "glx": (3.55, 3.95), "tcr": (2.90, 3.15)}
TRUTH_SYSTEMS = {"gaba_plus": ("GABA", "MM167"), "glx": ("Glu", "Gln"), "tcr": ("Cr", "PCr")}


@dataclass
class IndependentBasis:
    fids: dict[str, np.ndarray]  # name -> (2 [ON, OFF], points), working frame
    dwell_s: float
    mhz: float
    centre_ppm: float


_BASIS_CACHE: dict[str, IndependentBasis] = {}


def independent_basis() -> IndependentBasis:
    """The MRSandbox MEGA basis, read with `nifti_mrs` (its `[:]` gives the working frame)."""
    if "mega" not in _BASIS_CACHE:
        import json

        from nifti_mrs.nifti_mrs import NIFTI_MRS

        image = NIFTI_MRS(str(INDEPENDENT_BASIS))
        names = json.loads(INDEPENDENT_BASIS.with_name("mega_basis_mrsandbox.json").read_text())["systems"]
        data = np.asarray(image[:]).reshape(image.shape[3:])  # (points, edit, system)
        _BASIS_CACHE["mega"] = IndependentBasis(
            {
                name: np.ascontiguousarray(data[:, :, k].T).astype(np.complex128)
                for k, name in enumerate(names)
            },
            float(image.dwelltime),
            float(image.spectrometer_frequency[0]),
            float(image.axes.ppmshift) if hasattr(image.axes, "ppmshift") else RECEIVER_PPM,
        )
    return _BASIS_CACHE["mega"]


def independent_truth(conc: dict[str, float]) -> dict[str, float]:
    """GABA+ (GABA + co-edited MM at 3.0 ppm) and Glx (Glu + Gln) areas in DIFF = (ON - OFF) / 2
    and the tCr CH3 area in OFF, with their ratios: the sums of MRSandbox's own transition
    amplitudes (absorptive part) inside each window, in the spectrum units of
    `processing.spectrum` (a unit time-domain amplitude has area 1 / (2 dwell MHz) ppm). No FID,
    lineshape, truncation or fit enters the truth."""
    import json

    b = independent_basis()
    if "lines" not in _BASIS_CACHE:
        meta = json.loads(INDEPENDENT_BASIS.with_name("mega_basis_mrsandbox.json").read_text())
        _BASIS_CACHE["lines"] = meta["lines_ppm_and_real_amplitude"]  # type: ignore[assignment]
    lines = _BASIS_CACHE["lines"]
    unit = 1 / (2 * b.dwell_s * b.mhz)
    area = {}
    for key, names in TRUTH_SYSTEMS.items():
        low, high = TRUTH_WINDOWS[key]

        def inside(name: str, condition: str, low: float = low, high: float = high) -> float:
            return sum(a for ppm, a in lines[name][condition] if low <= ppm <= high)  # type: ignore[index]

        if key == "tcr":
            area[key] = unit * sum(conc.get(n, 0.0) * inside(n, "off") for n in names)
        else:
            area[key] = unit * sum(conc.get(n, 0.0) * (inside(n, "on") - inside(n, "off")) / 2 for n in names)
    return {
        **{f"{k}_area": v for k, v in area.items()},
        "gaba_plus_cr": area["gaba_plus"] / area["tcr"],
        "glx_cr": area["glx"] / area["tcr"],
    }


def independent_mega_scan(
    *,
    gaba: float | None = None,
    glu: float | None = None,
    conc: dict[str, float] | None = None,
    n_dyn: int = 160,
    n_coils: int = 1,
    noise: float = 0.0,
    lorentz_hz: float = 3.0,
    gauss_hz: float = 4.0,
    drift_hz: float = 0.0,
    phase_jitter_deg: float = 0.0,
    motion_fraction: float = 0.0,
    lipids: float = 0.0,
    residual_water: float = 30.0,
    water_mm: float = 20000.0,
    seed: int = 0,
) -> Scan:
    """A MEGA-PRESS scan from the MRSandbox basis: ON/OFF transients interleaved in time
    (ON first), a Voigt lineshape (Lorentzian `lorentz_hz` on top of the basis' 0.5 Hz, Gaussian
    `gauss_hz` FWHM for the shim), macromolecules broadened by their own Gaussian widths, linear
    frequency drift of `drift_hz` over the scan plus a random walk, phase jitter, a fraction of
    motion-corrupted transients, lipids, residual water with a random phase, receive coils with
    correlated noise, and a water reference. `noise` is the complex SD per transient and coil.
    The same seed gives the same noise whatever the artefacts (a separate stream)."""
    b = independent_basis()
    values = dict(BRAIN_MM if conc is None else conc)
    if gaba is not None:
        values["GABA"] = gaba
    if glu is not None:
        values["Glu"] = glu
    if lipids:
        values["Lip09"], values["Lip13"] = lipids, 3 * lipids
    n = b.fids["NAA"].shape[-1]
    t = np.arange(n) * b.dwell_s
    voigt = np.exp(-np.pi * lorentz_hz * t - (np.pi * gauss_hz * t) ** 2 / (4 * np.log(2)))
    signal = np.zeros((2, n), dtype=np.complex128)
    for name, c in values.items():
        if not c:
            continue
        extra = MM_GAUSS_PPM.get(name)
        shape = (
            voigt if extra is None else voigt * np.exp(-((np.pi * extra * b.mhz * t) ** 2) / (4 * np.log(2)))
        )
        signal += c * b.fids[name] * shape
    rng = np.random.default_rng(seed)
    water_phase = rng.uniform(-np.pi, np.pi)
    signal += residual_water * np.exp(1j * water_phase) * b.fids["H2O"][1] * voigt * np.exp(-np.pi * 4 * t)
    order = np.arange(2 * n_dyn).reshape(n_dyn, 2).T  # acquisition index of (edit, dyn)
    drift = drift_hz * order / (2 * n_dyn - 1)
    if drift_hz:
        # A random walk on top, about 1 Hz over the scan for 6 Hz of linear drift.
        drift = drift + np.cumsum(rng.normal(0, drift_hz / 100, 2 * n_dyn))[order]
    phases = (
        np.deg2rad(rng.normal(0, phase_jitter_deg, (2, n_dyn))) if phase_jitter_deg else np.zeros((2, n_dyn))
    )
    transients = (
        signal[:, None, :] * np.exp(1j * phases[..., None]) * np.exp(2j * np.pi * drift[..., None] * t)
    )
    if motion_fraction:
        bad = rng.choice(2 * n_dyn, size=int(round(motion_fraction * 2 * n_dyn)), replace=False)
        for k in bad:
            e, d = k % 2, k // 2
            transients[e, d] *= 0.5 * np.exp(1j * rng.uniform(-np.pi, np.pi))
            transients[e, d] *= np.exp(2j * np.pi * rng.uniform(-20, 20) * t)
    sens = coil_sensitivities(rng, n_coils)
    metab = sens[None, None, :, None] * transients[:, :, None, :]
    water_fid = water_mm * b.fids["H2O"][1] * voigt
    water = np.broadcast_to(sens[None, None, :, None] * water_fid, (1, 1, n_coils, n)).copy()
    noise_rng = np.random.default_rng([seed, 1])
    if noise:
        mix = np.eye(n_coils) if n_coils == 1 else np.linalg.cholesky(coil_covariance(n_coils))
        for array in (metab, water):
            white = noise_rng.normal(size=array.shape) + 1j * noise_rng.normal(size=array.shape)
            array += noise / np.sqrt(2) * np.einsum("ij,...jt->...it", mix, white)
    truth = independent_truth(values)
    truth.update(gaba_mm=values.get("GABA", 0.0), glu_mm=values.get("Glu", 0.0))
    return Scan(metab, water, b.dwell_s, b.mhz, truth, drift[1])


def coil_covariance(n_coils: int) -> np.ndarray:
    """A receive array's noise covariance: unit diagonal, neighbours correlated (0.2)."""
    cov = np.eye(n_coils, dtype=np.complex128)
    for i in range(n_coils - 1):
        cov[i, i + 1] = cov[i + 1, i] = 0.2
    return cov
