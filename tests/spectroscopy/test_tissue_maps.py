"""Voxel tissue fractions from GM/WM/CSF probability maps, with nibabel."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from spectroscopy.io import MRSFormatError, _voxel_box, voxel_tissue_fractions


def _mrs_voxel(path, centre_mm, size_mm):  # type: ignore[no-untyped-def]
    affine = np.diag([*size_mm, 1.0])
    affine[:3, 3] = centre_mm
    image = nib.Nifti2Image(np.zeros((1, 1, 1, 8), dtype=np.complex64), affine)
    image.header["pixdim"][4] = 0.0005
    image.header.extensions.append(
        nib.nifti1.Nifti1Extension(44, json.dumps({"SpectrometerFrequency": [123.2]}).encode())
    )
    nib.save(image, str(path))
    return path


def _maps(tmp_path, gm_value, wm_value, csf_value):  # type: ignore[no-untyped-def]
    """1 mm maps of a 60 mm cube: the left half (x < 0) GM, the right half split WM / CSF by z."""
    affine = np.eye(4)
    affine[:3, 3] = -29.5  # voxel centres at -29.5 ... 29.5 mm
    x, _, z = np.meshgrid(*(np.arange(60) - 29.5 for _ in range(3)), indexing="ij")
    gm = np.where(x < 0, gm_value, 0.0)
    wm = np.where((x >= 0) & (z < 0), wm_value, 0.0)
    csf = np.where((x >= 0) & (z >= 0), csf_value, 0.0)
    paths = []
    for name, data in (("gm", gm), ("wm", wm), ("csf", csf)):
        p = tmp_path / f"{name}.nii"
        nib.save(nib.Nifti1Image(data.astype(np.float32), affine), str(p))
        paths.append(p)
    return paths


def test_a_voxel_across_known_regions_gets_the_expected_fractions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A 20 x 20 x 20 mm voxel centred at (0, 0, 0): half GM (x < 0), a quarter WM, a quarter CSF.
    mrs = _mrs_voxel(tmp_path / "mrs.nii", (0.0, 0.0, 0.0), (20.0, 20.0, 20.0))
    fractions = voxel_tissue_fractions(mrs, *_maps(tmp_path, 1.0, 1.0, 1.0))
    assert fractions == pytest.approx({"f_gm": 0.5, "f_wm": 0.25, "f_csf": 0.25})


def test_a_voxel_inside_grey_matter_is_all_grey_matter(tmp_path) -> None:  # type: ignore[no-untyped-def]
    mrs = _mrs_voxel(tmp_path / "mrs.nii", (-15.0, 0.0, 0.0), (10.0, 10.0, 10.0))
    assert voxel_tissue_fractions(mrs, *_maps(tmp_path, 0.9, 1.0, 1.0)) == pytest.approx(
        {"f_gm": 1.0, "f_wm": 0.0, "f_csf": 0.0}
    )


def test_maps_that_miss_the_voxel_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    mrs = _mrs_voxel(tmp_path / "mrs.nii", (200.0, 0.0, 0.0), (10.0, 10.0, 10.0))
    with pytest.raises(MRSFormatError, match="does not overlap"):
        voxel_tissue_fractions(mrs, *_maps(tmp_path, 1.0, 1.0, 1.0))


def test_a_file_that_is_not_a_map_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    mrs = _mrs_voxel(tmp_path / "mrs.nii", (0.0, 0.0, 0.0), (20.0, 20.0, 20.0))
    gm, wm, _csf = _maps(tmp_path, 1.0, 1.0, 1.0)
    bad = tmp_path / "notes.txt"
    bad.write_text("segmentation done")
    with pytest.raises(MRSFormatError, match="not a NIfTI"):
        voxel_tissue_fractions(mrs, gm, wm, bad)


def test_uploading_the_three_maps_records_the_sessions_fractions(coordinator, tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    import io

    from django.utils import timezone

    from spectroscopy import services
    from spectroscopy.models import TissueFractions
    from spectroscopy.synthetic import independent_mega_scan, write_nifti_mrs
    from tests.factories import enrolled

    settings.MEDIA_ROOT = str(tmp_path / "media")
    scan = independent_mega_scan(n_dyn=4)
    # write_nifti_mrs puts a 1 mm voxel at the origin: half GM, a quarter WM, a quarter CSF.
    metab = write_nifti_mrs(
        tmp_path / "m.nii",
        np.transpose(scan.metab, (3, 2, 0, 1)),
        dims=("DIM_COIL", "DIM_EDIT", "DIM_DYN"),
        dwell_s=scan.dwell_s,
        spectrometer_mhz=scan.mhz,
    )
    person = enrolled(coordinator)

    def store(path, kind):  # type: ignore[no-untyped-def]
        return services.upload_store(
            participant=person,
            session_code="s1",
            kind=kind,
            source=io.BytesIO(path.read_bytes()),
            original_name=path.name,
            by=coordinator,
            now=timezone.now(),
        )[0]

    store(metab, "mega")
    gm, wm, csf = _maps(tmp_path, 1.0, 1.0, 1.0)
    assert store(gm, "gm_map").status == "accepted"
    store(wm, "wm_map")
    assert not TissueFractions.objects.exists()
    store(csf, "csf_map")
    record = TissueFractions.objects.get(participant=person, session_code="s1")
    assert (float(record.f_gm), float(record.f_wm), float(record.f_csf)) == pytest.approx((0.5, 0.25, 0.25))
    assert record.source == "probability maps"


def _brute_force(mrs_affine, maps):  # type: ignore[no-untyped-def]
    """Every voxel of every map tested against the spectroscopy voxel (the reference)."""
    inverse = np.linalg.inv(mrs_affine)
    means = {}
    for name, path in zip(("f_gm", "f_wm", "f_csf"), maps, strict=True):
        image = nib.load(str(path))
        data = np.asanyarray(image.dataobj, dtype=np.float64)
        ijk = np.indices(data.shape).reshape(3, -1)
        world = image.affine @ np.vstack([ijk, np.ones(ijk.shape[1])])
        inside = np.all(np.abs((inverse @ world)[:3]) <= 0.5, axis=0)
        means[name] = float(np.clip(data.reshape(-1)[inside], 0, 1).mean())
    total = sum(means.values())
    return {k: v / total for k, v in means.items()}


@pytest.mark.parametrize("angle_deg", [0.0, 17.0, 45.0])
def test_only_the_maps_around_the_voxel_are_read_and_an_oblique_voxel_gives_the_same_fractions(
    tmp_path, angle_deg
) -> None:  # type: ignore[no-untyped-def]
    # An oblique 18 x 22 x 15 mm voxel off-centre, rotated about two axes, over graded maps.
    a = np.deg2rad(angle_deg)
    rot_z = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rot_x = np.array([[1, 0, 0], [0, np.cos(a / 2), -np.sin(a / 2)], [0, np.sin(a / 2), np.cos(a / 2)]])
    affine = np.eye(4)
    affine[:3, :3] = rot_z @ rot_x @ np.diag([18.0, 22.0, 15.0])
    affine[:3, 3] = (-4.0, 3.0, 2.5)
    image = nib.Nifti2Image(np.zeros((1, 1, 1, 8), dtype=np.complex64), affine)
    image.header["pixdim"][4] = 0.0005
    mrs = tmp_path / "oblique.nii"
    nib.save(image, str(mrs))
    map_affine = np.diag([1.0, 1.2, 0.9, 1.0])
    map_affine[:3, 3] = (-30.0, -33.0, -27.0)
    x, y, z = np.meshgrid(*(np.linspace(0, 1, 60) for _ in range(3)), indexing="ij")
    maps = []
    for name, data in (("gm", x), ("wm", y * (1 - x)), ("csf", z * (1 - x) * (1 - y))):
        path = tmp_path / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(data.astype(np.float32), map_affine), str(path))
        maps.append(path)
    assert voxel_tissue_fractions(mrs, *maps) == pytest.approx(_brute_force(affine, maps), abs=1e-12)
    box = _voxel_box(affine, map_affine, (60, 60, 60))
    assert all(0 < b.stop - b.start < 45 for b in box)  # a corner of the maps, not all 216,000 voxels
