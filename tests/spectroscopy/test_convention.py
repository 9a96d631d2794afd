"""The NIfTI-MRS phase/frequency convention, checked against tools and data this project did not
make: files written by the standard's own library (`nifti_mrs`) from MRSandbox's density-matrix
simulation, and real Siemens scans converted by spec2nii (../shared/data/vendor-mrs). A reader
that mirrors the axis puts NAA at ~7.35 ppm and fails here, whatever our own writer does."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from spectroscopy import convert, pipeline, processing, synthetic
from spectroscopy.io import MRSData, read_nifti_mrs

VENDOR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vendor-mrs"


def axis(data: MRSData) -> np.ndarray:
    """The standard's ppm axis (nifti_mrs' ppmAxisShift): centre + frequency / MHz."""
    return (
        data.centre_ppm + np.fft.fftshift(np.fft.fftfreq(data.n_points, data.dwell_s)) / data.spectrometer_mhz
    )


def peak(data: MRSData, fid: np.ndarray, low: float, high: float, *, remove_water: bool = True) -> float:
    if remove_water:
        # hsvd_remove works on the 4.68 ppm axis; move the band by the file's own centre.
        offset = processing.WATER_PPM - data.centre_ppm
        fid = processing.hsvd_remove(
            fid, data.dwell_s, data.spectrometer_mhz, low_ppm=4.3 + offset, high_ppm=5.1 + offset
        )
    ppm = axis(data)
    magnitude = np.abs(processing.spectrum(fid))
    band = (ppm >= low) & (ppm <= high)
    return float(ppm[band][np.argmax(magnitude[band])])


def strongest(data: MRSData, fid: np.ndarray) -> float:
    return peak(data, fid, 0.5, 8.5)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[MRSData, MRSData]:
    """An OFF-only view and the water reference of an MRSandbox scan, written by nifti_mrs."""
    folder = tmp_path_factory.mktemp("nmrs")
    scan = synthetic.independent_mega_scan(n_dyn=8, residual_water=0.0)
    metab = synthetic.write_nifti_mrs(
        folder / "mega.nii.gz",
        np.transpose(scan.metab, (3, 2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN", "DIM_EDIT"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    water = synthetic.write_nifti_mrs(
        folder / "ref.nii.gz",
        np.transpose(scan.water[0], (2, 1, 0)),
        dims=("DIM_COIL", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    return read_nifti_mrs(metab, require_edit=True), read_nifti_mrs(water)


def test_a_file_written_by_nifti_mrs_from_simulated_physics_reads_naa_tcr_tcho_and_water_where_they_belong(
    simulated: tuple[MRSData, MRSData],
) -> None:
    metab, water = simulated
    off = metab.fids[1, :, 0].mean(axis=0)
    assert peak(metab, off, 1.8, 2.2) == pytest.approx(2.01, abs=0.02)
    assert peak(metab, off, 2.9, 3.1) == pytest.approx(3.03, abs=0.02)
    assert peak(metab, off, 3.1, 3.3) == pytest.approx(3.20, abs=0.02)
    assert strongest(metab, off) == pytest.approx(2.01, abs=0.02)  # NAA, not its mirror at 7.3
    assert peak(water, water.fids[0, 0, 0], 4.0, 5.5, remove_water=False) == pytest.approx(4.67, abs=0.03)


def test_nifti_mrs_itself_reads_our_written_file_the_same_way(tmp_path: Path) -> None:
    from nifti_mrs.nifti_mrs import NIFTI_MRS

    scan = synthetic.independent_mega_scan(n_dyn=2, residual_water=0.0)
    path = synthetic.write_nifti_mrs(
        tmp_path / "x.nii.gz", np.transpose(scan.metab[:, :, 0], (2, 1, 0)), dims=("DIM_DYN", "DIM_EDIT"),
        dwell_s=scan.dwell_s, spectrometer_mhz=scan.mhz,
    )  # fmt: skip
    theirs = NIFTI_MRS(str(path))
    ours = read_nifti_mrs(path, require_edit=True)
    np.testing.assert_allclose(
        np.asarray(theirs[:]).reshape(2048, 2, 2)[:, 0, 1], ours.fids[1, 0, 0], rtol=1e-6
    )
    np.testing.assert_allclose(theirs.axes.ppmAxisShift, axis(ours), atol=1e-9)


def test_a_mirrored_file_is_refused_with_the_reason_and_never_quantified(tmp_path: Path) -> None:
    """Stored without the standard's conjugation (as a writer that ignores the convention does)."""
    from nifti_mrs.create_nmrs import gen_nifti_mrs

    scan = synthetic.independent_mega_scan(n_dyn=16, noise=1.0)
    data = np.transpose(scan.metab, (3, 2, 1, 0))[None, None, None].astype(np.complex64)
    image = gen_nifti_mrs(
        data, scan.dwell_s, scan.mhz, dim_tags=["DIM_COIL", "DIM_DYN", "DIM_EDIT"], no_conj=True
    )
    image.save(str(tmp_path / "mirrored.nii.gz"))
    metab = read_nifti_mrs(tmp_path / "mirrored.nii.gz", require_edit=True)
    # NAA (2.01 ppm) mirrored about the receiver (4.65 ppm): 7.29 ppm.
    assert strongest(metab, metab.fids[1, :, 0].mean(axis=0)) == pytest.approx(7.29, abs=0.05)

    with pytest.raises(pipeline.SpectrumRefused, match="mirrored"):
        pipeline.quantify(metab)


def test_unlabelled_edit_conditions_are_decided_from_the_data_and_the_result_says_so() -> None:
    scan = synthetic.independent_mega_scan(noise=1.0, n_dyn=32)
    # OFF first, and no EditCondition in the header.
    swapped = MRSData(scan.metab[::-1].copy(), scan.dwell_s, scan.mhz)
    labelled = MRSData(scan.metab, scan.dwell_s, scan.mhz, edit_conditions=("ON", "OFF"))

    inferred = pipeline.quantify(swapped).values
    header = pipeline.quantify(labelled).values

    assert inferred["edit_assignment"] == "inferred" and header["edit_assignment"] == "header"
    assert inferred["gaba_plus_cr"] == pytest.approx(header["gaba_plus_cr"], rel=1e-6)
    assert any("not labelled" in note for note in inferred["qc_notes"])
    assert inferred["qc_pass"] == header["qc_pass"]


def test_header_labels_that_contradict_the_data_are_flagged() -> None:
    scan = synthetic.independent_mega_scan(noise=1.0, n_dyn=32)
    wrong = MRSData(scan.metab, scan.dwell_s, scan.mhz, edit_conditions=("OFF", "ON"))

    values = pipeline.quantify(wrong).values

    assert not values["qc_pass"]
    assert any("contradict" in flag for flag in values["qc_flags"])


def test_noise_alone_is_refused_as_no_metabolite_signal() -> None:
    rng = np.random.default_rng(3)
    shape = (2, 16, 1, 2048)
    noise = MRSData(
        rng.normal(size=shape) + 1j * rng.normal(size=shape), 1 / 2000, 123.2, edit_conditions=("ON", "OFF")
    )
    with pytest.raises(pipeline.SpectrumRefused, match="no metabolite peak"):
        pipeline.quantify(noise)


# --- real scanner data ---------------------------------------------------------------------------


def vendor_file(name: str) -> Path:
    path = VENDOR / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must have shared/ beside the repository")
        pytest.skip(f"{path} not here (shared/ lies beside the repository in CI)")
    return path


def converted(name: str, tmp_path: Path) -> MRSData:
    (tmp_path / "out").mkdir(parents=True, exist_ok=True)
    source = tmp_path / name
    shutil.copy(vendor_file(name), source)
    result = convert.convert(source, out_dir=tmp_path / "out", edited=False)
    return read_nifti_mrs(result.output)


@pytest.mark.parametrize("name", ["SVS_30.rda", "SVS_30.IMA"])
def test_a_real_siemens_scan_converted_by_spec2nii_reads_naa_at_2_and_tcr_at_3_ppm(
    name: str, tmp_path: Path
) -> None:
    data = converted(name, tmp_path)
    fid = data.fids.reshape(-1, data.n_points).mean(axis=0)

    assert peak(data, fid, 1.7, 2.3) == pytest.approx(2.0, abs=0.05)
    assert peak(data, fid, 2.8, 3.12) == pytest.approx(3.0, abs=0.05)
    assert strongest(data, fid) == pytest.approx(2.0, abs=0.05)  # NAA, not its mirror image at 7.35
    seen = pipeline.orientation(
        processing.ppm_axis(data.n_points, data.dwell_s, data.spectrometer_mhz),
        fid,
        data.dwell_s,
        data.spectrometer_mhz,
    )
    assert seen["normal_snr"] > 2 * seen["mirror_snr"]


def test_the_rda_and_the_dicom_of_one_scan_read_as_the_same_spectrum(tmp_path: Path) -> None:
    rda = converted("SVS_30.rda", tmp_path / "a")
    dicom = converted("SVS_30.IMA", tmp_path / "b")
    a = np.abs(processing.spectrum(rda.fids.reshape(-1, rda.n_points).mean(axis=0)))
    b = np.abs(processing.spectrum(dicom.fids.reshape(-1, dicom.n_points).mean(axis=0)))
    assert np.corrcoef(a, b)[0, 1] > 0.999


def test_the_xa_dicom_path_reads_in_the_same_frame_as_the_older_siemens_files(tmp_path: Path) -> None:
    """A phantom of unknown composition: only the frame is checked. Its water line sits near the
    receiver (4.65 ppm) on our axis as on spec2nii's, as SVS_30's does."""
    xa = converted("SVS_XA60.dcm", tmp_path)
    svs = converted("SVS_30.rda", tmp_path / "svs")
    for data in (xa, svs):
        fid = data.fids.reshape(-1, data.n_points).mean(axis=0)
        assert peak(data, fid, 3.5, 6.0, remove_water=False) == pytest.approx(4.65, abs=0.1)
