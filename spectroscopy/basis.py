"""Simulated metabolite basis for short-TE PRESS linear-combination fitting. Pure: numpy only.

Each metabolite is a set of spin-1/2 groups with chemical shifts (ppm) and scalar couplings (Hz)
from Govindaraju, Young and Maudsley, NMR Biomed 2000;13:129-153 (Glu, Gln, NAA, mI, GABA, Tau,
Lac, Cr, Cho, sI). Strongly coupled systems are simulated in full: the density matrix of the
spin system goes through ideal PRESS (90x - TE1/2 - 180y - (TE1+TE2)/2 - 180y - TE2/2 -
acquire), with instantaneous hard pulses and free evolution under the complete Hamiltonian
H = sum w_i Iz_i + sum 2 pi J_ij I_i.I_j (evaluated in its eigenbasis). Ideal 180-degree pulses
map every coherence order p to -p, so no crusher-gradient coherence selection is needed.
Equivalent protons (a methyl) are one group with a multiplicity: they scale the signal and do not
couple among themselves observably. Basis FIDs are for one molecule (the sum of its protons),
unbroadened; the fit adds the lineshape. Macromolecules are Gaussian components at the usual
short-TE positions (LCModel's MM09 ... MM20 set), one basis function for all of them together
(their ratios fixed) so that they do not trade amplitude with the metabolites.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

WATER_PPM = 4.68  # the receiver reference used by the rest of the pipeline (synthetic.py)


@dataclass(frozen=True)
class Group:
    ppm: float
    protons: int = 1


@dataclass(frozen=True)
class Metabolite:
    name: str
    groups: tuple[Group, ...]
    couplings: tuple[tuple[int, int, float], ...] = ()


def _g(*shifts: float) -> tuple[Group, ...]:
    return tuple(Group(s) for s in shifts)


METABOLITES: tuple[Metabolite, ...] = (
    Metabolite("cr", (Group(3.027, 3), Group(3.913, 2))),
    Metabolite("cho", (Group(3.185, 9), Group(4.054, 2), Group(3.501, 2)), ((1, 2, 3.1),)),
    Metabolite(
        "naa",
        (Group(2.008, 3), *_g(4.3817, 2.6727, 2.4863)),
        ((1, 2, 3.861), (1, 3, 9.821), (2, 3, -15.592)),
    ),
    Metabolite(
        "glu",
        _g(3.7433, 2.0375, 2.1200, 2.3378, 2.3520),
        (
            (0, 1, 7.331),
            (0, 2, 4.651),
            (1, 2, -14.849),
            (1, 3, 6.413),
            (1, 4, 8.478),
            (2, 3, 8.406),
            (2, 4, 6.875),
            (3, 4, -15.915),
        ),
    ),
    Metabolite(
        "gln",
        _g(3.7530, 2.1290, 2.1090, 2.4320, 2.4540),
        (
            (0, 1, 5.847),
            (0, 2, 6.500),
            (1, 2, -14.504),
            (1, 3, 9.165),
            (1, 4, 6.347),
            (2, 3, 6.324),
            (2, 4, 9.209),
            (3, 4, -15.371),
        ),
    ),
    Metabolite(
        "mi",
        _g(3.5217, 4.0538, 3.5217, 3.6144, 3.2690, 3.6144),
        ((0, 1, 2.889), (1, 2, 3.006), (2, 3, 9.997), (3, 4, 9.485), (4, 5, 9.482), (5, 0, 9.998)),
    ),
    Metabolite(
        "gaba",
        (Group(3.0128, 2), Group(1.8890, 2), Group(2.2840, 2)),
        ((0, 1, 7.3), (1, 2, 7.3)),
    ),
    Metabolite("tau", (Group(3.4206, 2), Group(3.2459, 2)), ((0, 1, 6.7),)),
    Metabolite("lac", (Group(4.0974, 1), Group(1.3142, 3)), ((0, 1, 6.933),)),
    Metabolite("si", (Group(3.3340, 6),)),
)

# Macromolecule components (ppm, relative amplitude, Gaussian FWHM in ppm).
MACROMOLECULES = (
    (0.91, 3.0, 0.14),
    (1.21, 2.0, 0.15),
    (1.43, 2.0, 0.17),
    (1.67, 2.0, 0.15),
    (2.01, 3.0, 0.15),
    (2.09, 2.0, 0.15),
    (2.25, 2.0, 0.15),
    (2.61, 1.0, 0.15),
    (2.96, 1.5, 0.15),
    (3.11, 1.0, 0.15),
    (3.67, 1.0, 0.15),
    (3.80, 1.0, 0.15),
    (3.96, 1.5, 0.15),
)


def _operators(n: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    sx = np.array([[0, 0.5], [0.5, 0]], dtype=complex)
    sy = np.array([[0, -0.5j], [0.5j, 0]], dtype=complex)
    sz = np.array([[0.5, 0], [0, -0.5]], dtype=complex)
    eye = np.eye(2, dtype=complex)

    def embed(op: np.ndarray, k: int) -> np.ndarray:
        out = np.array([[1.0 + 0j]])
        for i in range(n):
            out = np.kron(out, op if i == k else eye)
        return out

    return (
        [embed(sx, k) for k in range(n)],
        [embed(sy, k) for k in range(n)],
        [embed(sz, k) for k in range(n)],
    )


def _rotation(generator: np.ndarray, angle: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(generator)
    return (vectors * np.exp(-1j * angle * values)) @ vectors.conj().T


def simulate(
    metabolite: Metabolite, *, te1_s: float, te2_s: float, mhz: float, dwell_s: float, n_points: int
) -> np.ndarray:
    """One molecule's PRESS FID (sum over its protons), in the pipeline's convention:
    exp(+2 pi i nu t) with nu = (ppm - 4.68) x MHz."""
    events = (
        ("all_x", np.pi / 2, te1_s / 2),
        ("all_y", np.pi, (te1_s + te2_s) / 2),
        ("all_y", np.pi, te2_s / 2),
    )
    ppm, amplitudes = lines(metabolite, events, mhz=mhz)
    return render(ppm, amplitudes, mhz=mhz, dwell_s=dwell_s, n_points=n_points)


def render(
    ppm: np.ndarray, amplitudes: np.ndarray, *, mhz: float, dwell_s: float, n_points: int
) -> np.ndarray:
    """The FID of a line list in the pipeline's convention (unbroadened)."""
    t = np.arange(n_points) * dwell_s
    return np.exp(2j * np.pi * np.outer(t, (ppm - WATER_PPM) * mhz)) @ amplitudes


def lines(
    metabolite: Metabolite, events: tuple[tuple[str, float, float], ...], *, mhz: float
) -> tuple[np.ndarray, np.ndarray]:
    """Transitions (ppm, complex amplitude at t = 0 of the acquisition) after `events`: each is
    (which spins, flip angle, delay after the pulse). "all_x"/"all_y" rotate every spin about x/y;
    "edit:<low>:<high>" rotates about x only the spins whose shift lies in low-high ppm (an
    ideal frequency-selective pulse, as MEGA's editing pulses are idealised). Amplitudes are in
    the pipeline's convention: a singlet of N protons after an ideal 90 starts at +N (real)."""
    n = len(metabolite.groups)
    ix, iy, iz = _operators(n)
    omega = [2 * np.pi * (g.ppm - WATER_PPM) * mhz for g in metabolite.groups]
    h = sum(w * z for w, z in zip(omega, iz, strict=True))
    for i, j, coupling in metabolite.couplings:
        h = h + 2 * np.pi * coupling * (ix[i] @ ix[j] + iy[i] @ iy[j] + iz[i] @ iz[j])
    energies, vectors = np.linalg.eigh(h)

    def evolve(rho: np.ndarray, t: float) -> np.ndarray:
        u = (vectors * np.exp(-1j * energies * t)) @ vectors.conj().T
        return u @ rho @ u.conj().T

    weights = [g.protons for g in metabolite.groups]
    fz = sum(w * z for w, z in zip(weights, iz, strict=True))
    fx_all, fy_all = sum(ix), sum(iy)
    rho = fz
    for which, angle, delay in events:
        if which == "all_x":
            generator = fx_all
        elif which == "all_y":
            generator = fy_all
        else:
            _tag, low, high = which.split(":")
            chosen = [k for k, g in enumerate(metabolite.groups) if float(low) <= g.ppm <= float(high)]
            generator = sum((ix[k] for k in chosen), np.zeros_like(fx_all))
        if angle and np.any(generator):
            r = _rotation(generator, angle)
            rho = r @ rho @ r.conj().T
        rho = evolve(rho, delay)
    # Detection in the eigenbasis: s(t) = sum_jk rho_jk D_kj exp(-i (E_j - E_k) t).
    detector = sum(ix) - 1j * sum(iy)  # F-
    rho_e = vectors.conj().T @ rho @ vectors
    d_e = vectors.conj().T @ detector @ vectors
    amplitudes = rho_e * d_e.T
    freqs = energies[:, None] - energies[None, :]
    keep = np.abs(amplitudes) > 1e-9
    # The signal is sum A exp(-i w t) (physics convention). The 90x pulse puts magnetization along
    # -y and the trace over the 2^n-dimensional space scales by 2^n / 4: rotate and scale so a
    # singlet of N protons starts at +N; the complex conjugate turns exp(-i w t) into the
    # pipeline's exp(+i w t), so a line at +w / 2 pi Hz from the receiver (4.68 ppm) is at
    # 4.68 + w / (2 pi MHz) ppm.
    out = np.conj(amplitudes[keep] * (-1j) * (4 / 2**n))
    return WATER_PPM + freqs[keep] / (2 * np.pi * mhz), out


def macromolecules(*, mhz: float, dwell_s: float, n_points: int) -> np.ndarray:
    t = np.arange(n_points) * dwell_s
    out = np.zeros(n_points, dtype=complex)
    for ppm, amplitude, fwhm_ppm in MACROMOLECULES:
        sigma = fwhm_ppm * mhz / 2.3548
        out += (
            amplitude
            * np.exp(2j * np.pi * (ppm - WATER_PPM) * mhz * t)
            * np.exp(-2 * np.pi**2 * sigma**2 * t**2)
        )
    return out


# MEGA-PRESS (Mescher et al. 1998) at TE 68 ms with the delays of the FID-A simulation of the
# sequence (Simpson et al. 2017): 90 - 5 - 180 - 17 - E - 17 - 180 - 17 - E - 12 ms, E the
# editing 180s, idealised as selective rotations of the spins inside the editing band
# (ON at 1.9 ppm, OFF at 7.5 ppm). The band is 62 Hz wide, the bandwidth of a 20 ms Gaussian
# editing pulse (the pulse duration of the trial's sequence); 62 Hz at 123 MHz is +-0.25 ppm, so
# GABA C3 (1.89) and Glu/Gln C3 (2.04-2.13) are inside the ON band, NAA's CH3 (2.01) too.
MEGA_DELAYS_S = (0.005, 0.017, 0.017, 0.017, 0.012)
MEGA_BANDWIDTH_HZ = 62.0
MEGA_EDIT_PPM = {"on": 1.9, "off": 7.5}


# Co-edited macromolecules under GABA: the lysine/arginine chain whose 3.00 ppm protons couple to
# 1.70 ppm (J 7.7 Hz; Cudalbu et al. 2021 consensus, Table 1), two protons each.
def expanded(metabolite: Metabolite, name: str | None = None) -> Metabolite:
    """The same molecule with every proton of a coupled group as its own spin (A2X2 stays
    A2X2): editing acts on the coupling network, and folding two protons into one weighted spin
    turns GABA's 3.0 ppm pseudo-doublet (outer lines 2J apart) into a narrow doublet."""
    groups: list[Group] = []
    index: list[list[int]] = []
    for g in metabolite.groups:
        index.append(list(range(len(groups), len(groups) + g.protons)))
        groups.extend(Group(g.ppm) for _ in range(g.protons))
    couplings = tuple(
        (i, j, coupling) for a, b, coupling in metabolite.couplings for i in index[a] for j in index[b]
    )
    return Metabolite(name or metabolite.name, tuple(groups), couplings)


_BY_NAME = {m.name: m for m in METABOLITES}
MEGA_METABOLITES: tuple[Metabolite, ...] = (
    expanded(_BY_NAME["gaba"]),
    _BY_NAME["glu"],
    _BY_NAME["gln"],
    expanded(Metabolite("mm30", (Group(3.00, 2), Group(1.70, 2)), ((0, 1, 7.7),))),
)


def mega_events(condition: str, *, mhz: float) -> tuple[tuple[str, float, float], ...]:
    d1, d2, d3, d4, d5 = MEGA_DELAYS_S
    half = MEGA_BANDWIDTH_HZ / 2 / mhz
    centre = MEGA_EDIT_PPM[condition]
    edit = f"edit:{centre - half}:{centre + half}"
    return (
        ("all_x", np.pi / 2, d1),
        ("all_y", np.pi, d2),
        (edit, np.pi, d3),
        ("all_y", np.pi, d4),
        (edit, np.pi, d5),
    )


@lru_cache(maxsize=4)
def mega_lines(*, mhz: float) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """name -> {"on": (ppm, amplitudes), "off": ...} for the MEGA-PRESS basis."""
    return {
        m.name: {c: lines(m, mega_events(c, mhz=mhz), mhz=mhz) for c in ("on", "off")}
        for m in MEGA_METABOLITES
    }


def edited_area(name: str, low: float, high: float, *, mhz: float) -> float:
    """Sum of the absorptive amplitudes of one molecule's DIFF = (ON - OFF) / 2 lines inside
    low-high ppm: the area (x 1 / (2 dwell MHz)) that one unit of the basis adds there."""
    basis = mega_lines(mhz=mhz)[name]
    total = 0.0
    for condition, sign in (("on", 0.5), ("off", -0.5)):
        ppm, amplitudes = basis[condition]
        inside = (ppm >= low) & (ppm <= high)
        total += sign * float(np.sum(amplitudes[inside].real))
    return total


@lru_cache(maxsize=8)
def press_basis(
    *,
    te_s: float = 0.030,
    mhz: float = 123.25,
    dwell_s: float = 1 / 2000,
    n_points: int = 2048,
    te1_s: float | None = None,
) -> dict[str, np.ndarray]:
    """Name -> unbroadened FID of one molecule (plus 'mm', the macromolecule set)."""
    te1 = te_s / 2 if te1_s is None else te1_s
    basis = {
        m.name: simulate(m, te1_s=te1, te2_s=te_s - te1, mhz=mhz, dwell_s=dwell_s, n_points=n_points)
        for m in METABOLITES
    }
    basis["mm"] = macromolecules(mhz=mhz, dwell_s=dwell_s, n_points=n_points)
    for fid in basis.values():
        fid.setflags(write=False)
    return basis
