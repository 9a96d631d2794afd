"""Peak memory of the web process for hostile and genuine MRS uploads. Prints its figures.

    DEBUG=1 .venv/bin/python -m benchmarks.upload_bomb [--declared-gb 2.1] [--no-genuine]

The site runs under gunicorn (one sync worker) on a fresh SQLite database and media folder in a
temporary directory; a coordinator uploads, through the upload page over HTTP:

- the testers' gzip bomb (issue 16): a NIfTI-2 header declaring ~2.1 GB (2048 points x 32 coils
  x 2 x 2000), followed by that many zero bytes, compressed to ~2 MB. Before the fix the worker
  grew to 4.4 GB for 22 s and left a 2.1 GB file;
- a stream larger than its header: a header declaring 1 kB followed by the same ~2.1 GB of zeros;
- (unless --no-genuine) a genuine 32-coil MEGA series, 2 x 160 transients of 2048 points,
  complex64 (160 MB uncompressed), for comparison with the normal path.

Per upload: the worker's resident memory before the request and its peak during it (VmHWM of
/proc/<pid>/status, reset through /proc/<pid>/clear_refs before each request), the request time,
the record's status and reason, and the files left under MEDIA_ROOT. The temporary folder is
removed at the end.

On this 2-core machine: the bomb is refused from its header in 0.15 s with the worker's peak at
87 MB (72 MB before the request), only the 1.9 MB original kept; the stream beyond its header is
refused at the 1 MB ceiling in 0.05 s (peak 91 MB); the genuine series is accepted in 1.9 s
(peak 305 MB: the chunked working copy, then the 160 MB array validated).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def _gzip_of(header: bytes, zeros: int, path: Path) -> None:
    """header + `zeros` zero bytes as a gzip file, compressed in a stream (never all in memory)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip wrapper
    block = b"\x00" * (16 * MB)
    with path.open("wb") as out:
        out.write(compressor.compress(header))
        left = zeros
        while left > 0:
            out.write(compressor.compress(block[: min(left, len(block))]))
            left -= min(left, len(block))
        out.write(compressor.flush())


def build_files(folder: Path, declared_gb: float, genuine: bool) -> dict[str, Path]:
    from tests.spectroscopy.test_intake import nifti2_header

    dynamics = round(declared_gb * 1e9 / (2048 * 32 * 2 * 8))
    shape = (1, 1, 1, 2048, 32, 2, dynamics)
    header = nifti2_header(shape)
    declared = 2048 * 32 * 2 * dynamics * 8
    files = {"bomb": folder / "bomb.nii.gz", "stream beyond header": folder / "beyond.nii.gz"}
    _gzip_of(header, declared, files["bomb"])
    _gzip_of(nifti2_header((1, 1, 1, 64, 2)), declared, files["stream beyond header"])
    if genuine:
        import numpy as np

        from spectroscopy.synthetic import independent_mega_scan, write_nifti_mrs

        scan = independent_mega_scan(n_coils=32, noise=1.0, drift_hz=2.0, seed=3)
        files["genuine 32-coil series"] = write_nifti_mrs(
            folder / "genuine.nii.gz",
            np.transpose(scan.metab, (3, 2, 1, 0)),
            dims=("DIM_COIL", "DIM_DYN", "DIM_EDIT"),
            dwell_s=scan.dwell_s,
            spectrometer_mhz=scan.mhz,
        )
    return files


def _worker_pid(master: int) -> int:
    for _ in range(100):
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                    return int(entry.name)
        time.sleep(0.1)
    raise RuntimeError("no gunicorn worker found")


def _status_kb(pid: int, key: str) -> int:
    match = re.search(rf"^{key}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(match.group(1)) if match else 0


def _multipart(fields: dict[str, str], name: str, path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = b"".join([*parts, head, path.read_bytes(), f"\r\n--{boundary}--\r\n".encode()])
    return body, f"multipart/form-data; boundary={boundary}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--declared-gb", type=float, default=2.1)
    parser.add_argument("--no-genuine", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    media = tmp / "media"
    os.environ.update(
        {
            "DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
            "MEDIA_ROOT": str(media),
            "DJANGO_SETTINGS_MODULE": "ketatrial.settings",
        }
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.urls import reverse

    from benchmarks.web_scale import _free_port, _session_cookie
    from spectroscopy.models import MRSUpload
    from tests.factories import enrolled

    call_command("migrate", verbosity=0)
    cookie = _session_cookie("bench_coordinator", "coordinator")
    from django.contrib.auth import get_user_model

    person = enrolled(get_user_model().objects.get(username="bench_coordinator"))
    started = time.perf_counter()
    files = build_files(tmp, args.declared_gb, not args.no_genuine)
    print(f"files built in {time.perf_counter() - started:.0f} s:")
    for label, path in files.items():
        print(f"   {label:<24}{path.stat().st_size / MB:>9.1f} MB compressed")

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ketatrial.wsgi", "-w", "1", "--timeout", "300"]
        + ["-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}"
    page = base + reverse("spectroscopy:participant", args=[person.pk])
    target = base + reverse("spectroscopy:upload", args=[person.pk])
    try:
        for _ in range(150):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:  # not up yet
                time.sleep(0.2)
        worker = _worker_pid(server.pid)
        print(f"\n{'upload':<24}{'RSS before':>11}{'peak RSS':>10}{'time':>8}  status: reason; files left")
        for label, path in files.items():
            # Our own server over http: no other scheme is ever opened here.
            request = urllib.request.Request(page, headers={"Cookie": f"sessionid={cookie}"})  # noqa: S310
            with urllib.request.urlopen(request) as response:  # noqa: S310
                html = response.read().decode()
                csrf = re.search(r"csrftoken=([^;]+)", response.headers.get("Set-Cookie", "")).group(1)  # type: ignore[union-attr]
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
            body, content_type = _multipart(
                {"csrfmiddlewaretoken": token, "session_code": "unscheduled", "kind": "mega"}, path.name, path
            )
            before = _status_kb(worker, "VmRSS")
            Path(f"/proc/{worker}/clear_refs").write_text("5")  # the peak (VmHWM) restarts here
            request = urllib.request.Request(  # noqa: S310
                target,
                data=body,
                headers={
                    "Content-Type": content_type,
                    "Cookie": f"sessionid={cookie}; csrftoken={csrf}",
                    "Accept-Language": "en",
                },
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request) as response:  # noqa: S310
                response.read()
            elapsed = time.perf_counter() - started
            peak = _status_kb(worker, "VmHWM")
            upload = MRSUpload.objects.order_by("-pk").first()
            assert upload is not None
            left = sorted(p for p in media.rglob("*") if p.is_file() and upload.sha256[:12] in p.name)
            sizes = ", ".join(f"{p.name.split('-', 1)[1]} {p.stat().st_size / MB:.1f} MB" for p in left)
            reason = upload.refusal_reason.replace("\xa0", " ")
            print(
                f"{label:<24}{before / 1024:>8.0f} MB{peak / 1024:>7.0f} MB{elapsed:>7.2f}s  "
                f"{upload.status}: {reason[:110] or '-'}; {sizes}"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
