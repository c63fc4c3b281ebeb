"""read_gray / describe / is_image_candidate: formats, DICOM pixel pipeline, bad inputs, privacy.

DICOM files are built with tests/dicom_factory.py (importable because pytest puts tests/ on
sys.path for tests/conftest.py).
"""

from __future__ import annotations

import traceback
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import write_dicom
from PIL import Image, TiffImagePlugin
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import MPEG2MPML, JPEGLSLossless, RLELossless

from cxrgan.data.decode import describe, is_image_candidate, read_gray
from cxrgan.data.decode_pillow import draft_scale
from cxrgan.data.preprocess import fit_square
from cxrgan.errors import UnreadableImage

ORIENTATION = 274


def gray(path: Path, target: int | None = None) -> np.ndarray:
    img = read_gray(path, target)
    assert img.mode == "L"
    return np.asarray(img).astype(int)


def smooth(h: int, w: int, scale: float = 1.0) -> np.ndarray:
    """A smooth 8-bit test pattern that JPEG keeps within a level or two."""
    y, x = np.mgrid[0:h, 0:w] / scale
    return (128 + 60 * np.sin(x / 9.0) * np.cos(y / 13.0)).astype(np.uint8)


def marked(w: int, h: int, mark: int) -> Image.Image:
    """Flat 60 with a bright mark×mark square in the stored top-left corner."""
    arr = np.full((h, w), 60, np.uint8)
    arr[:mark, :mark] = 250
    return Image.fromarray(arr)


def exif_with(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return exif


# --- which files we try -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a.jpg", "a.JPEG", "a.png", "a.tif", "a.TIFF", "a.dcm", "a.DICOM"]
)
def test_image_suffixes_are_candidates(tmp_path: Path, name: str) -> None:
    assert is_image_candidate(tmp_path / name)  # by name alone: the file need not exist


@pytest.mark.parametrize("name", ["notes.txt", "labels.csv", "IM0001", "1.2.840.99.7", "DICOMDIR"])
def test_non_images_are_not_candidates(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"x" * 200)
    assert not is_image_candidate(tmp_path / name)


@pytest.mark.parametrize("name", ["IM0001", "1.2.840.113619.2.55.478"])
def test_dicom_without_suffix_is_sniffed_and_decoded(tmp_path: Path, name: str) -> None:
    path = write_dicom(tmp_path / name, np.full((4, 6), 7, np.uint8))
    assert is_image_candidate(path)
    assert np.all(gray(path) == 7)


def test_dicomdir_is_not_a_candidate_even_with_a_preamble(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "DICOMDIR", np.zeros((2, 2), np.uint8), with_pixels=False)
    assert not is_image_candidate(path)


# --- JPEG / PNG / TIFF ----------------------------------------------------------------------


def test_png_8bit_is_exact(tmp_path: Path) -> None:
    arr = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(arr).save(tmp_path / "a.png")
    assert np.array_equal(gray(tmp_path / "a.png"), arr)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_full_range_is_scaled_not_clipped(tmp_path: Path, suffix: str) -> None:
    arr = np.array([[0, 257, 257 * 100, 257 * 200, 65535, 40000]], np.uint16)
    Image.fromarray(arr).save(tmp_path / f"a{suffix}")
    assert gray(tmp_path / f"a{suffix}").tolist() == [[0, 1, 100, 200, 255, 156]]


@pytest.mark.parametrize(
    ("top", "bits"), [(4095, 12), (1000, 10), (4096, 13), (200, 8)]
)
def test_16bit_narrow_range_uses_its_significant_bits(tmp_path: Path, top: int, bits: int) -> None:
    # 12-bit data in a 16-bit PNG: scaled by 4095, not 65535 (which would leave it black)
    # and not min-max stretched (0 stays black).
    arr = np.linspace(0, top, 64).round().astype(np.uint16).reshape(8, 8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    expected = np.rint(arr * 255.0 / (2**bits - 1))
    assert np.array_equal(gray(tmp_path / "a.png"), expected)
    assert describe(tmp_path / "a.png")["bit_depth"] == 16


def test_cmyk_jpeg_becomes_gray(tmp_path: Path) -> None:
    img = Image.new("CMYK", (48, 16), (0, 0, 0, 0))  # white
    img.paste((0, 0, 0, 128), (16, 0, 32, 16))  # 50 % black ink
    img.paste((0, 0, 0, 255), (32, 0, 48, 16))  # full black ink
    img.save(tmp_path / "a.jpg", quality=95)
    assert describe(tmp_path / "a.jpg")["mode"] == "CMYK"
    out = gray(tmp_path / "a.jpg")
    assert abs(out[8, 8] - 255) <= 1 and abs(out[8, 24] - 127) <= 2 and out[8, 40] <= 1


def test_rgb_jpeg_with_equal_channels_equals_its_L_conversion(tmp_path: Path) -> None:
    g = Image.fromarray(smooth(64, 96))
    Image.merge("RGB", (g, g, g)).save(tmp_path / "a.jpg", quality=90)
    with Image.open(tmp_path / "a.jpg") as img:
        assert img.mode == "RGB"
        expected = np.asarray(img.convert("L")).astype(int)
    assert np.array_equal(gray(tmp_path / "a.jpg"), expected)
    assert np.abs(expected - np.asarray(g)).max() <= 3


def test_progressive_jpeg_decodes_like_baseline(tmp_path: Path) -> None:
    img = Image.fromarray(smooth(120, 200))
    img.save(tmp_path / "base.jpg", quality=85)
    img.save(tmp_path / "prog.jpg", quality=85, progressive=True)
    assert describe(tmp_path / "prog.jpg")["progressive"] is True
    assert describe(tmp_path / "base.jpg")["progressive"] is False
    diff = np.abs(gray(tmp_path / "prog.jpg") - gray(tmp_path / "base.jpg"))
    assert diff.max() <= 1
    # and through the reduced-size path too
    diff = np.abs(gray(tmp_path / "prog.jpg", 20) - gray(tmp_path / "base.jpg", 20))
    assert diff.max() <= 1


def _assert_rotated_cw(out: np.ndarray, w: int, h: int, mark: int) -> None:
    """Orientation 6 = rotate 90° clockwise: stored top-left mark → displayed top-right."""
    assert out.shape == (w, h)  # rows = stored width
    assert np.all(out[1 : mark - 1, h - mark + 1 : h - 1] >= 240)
    assert np.all(out[mark + 2 :, :] <= 70) and np.all(out[:, : h - mark - 2] <= 70)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_exif_orientation_6_is_applied(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"a{suffix}"
    marked(40, 20, 8).save(path, exif=exif_with(6))
    _assert_rotated_cw(gray(path), 40, 20, 8)
    info = describe(path)
    assert (info["width"], info["height"], info["exif_orientation"]) == (20, 40, 6)


@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
def test_tiff_orientation_tag_is_applied(tmp_path: Path, compression: str | None) -> None:
    # Pillow 13 scrambles uncompressed TIFFs with orientation 5-8 when memory-mapped by
    # filename; read_gray opens a file object instead.
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[ORIENTATION] = 6
    marked(40, 20, 8).save(tmp_path / "a.tif", tiffinfo=tags, compression=compression)
    _assert_rotated_cw(gray(tmp_path / "a.tif"), 40, 20, 8)


def test_exif_orientation_with_draft_decoding(tmp_path: Path) -> None:
    marked(1024, 512, 64).save(tmp_path / "a.jpg", exif=exif_with(6), quality=95)
    out = gray(tmp_path / "a.jpg", 64)  # 1/4 scale: shorter side 128 = 2 × 64
    _assert_rotated_cw(out, 256, 128, 16)


def test_returned_image_carries_no_metadata(tmp_path: Path) -> None:
    Image.fromarray(smooth(16, 16)).save(tmp_path / "a.jpg", exif=exif_with(1), comment=b"hi")
    assert read_gray(tmp_path / "a.jpg").info == {}


# --- reduced-size JPEG decoding --------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "target", "scale"),
    [((2000, 1000), 64, 4), ((2000, 1000), 500, 1), ((2890, 2570), 64, 8), ((445, 140), 64, 1),
     ((1040, 747), 128, 2), ((1024, 1024), 64, 8), ((1023, 1023), 64, 4)],
)  # fmt: skip
def test_draft_scale_keeps_the_shorter_side_at_least_twice_the_target(
    size: tuple[int, int], target: int, scale: int
) -> None:
    assert draft_scale(size, target) == scale
    assert min(size) // scale >= 2 * target or scale == 1


def test_draft_decodes_at_reduced_size_with_the_true_extent(tmp_path: Path) -> None:
    # 1001 x 803 at 1/8 decodes to 126 x 101 blocks, the last ones partial; read_gray
    # resamples the true 125.1 x 100.4 extent, so the shape is the rounded true size.
    Image.fromarray(smooth(803, 1001, scale=12)).save(tmp_path / "a.jpg", quality=92)
    small = read_gray(tmp_path / "a.jpg", 50)
    assert small.size == (125, 100)
    full = read_gray(tmp_path / "a.jpg")
    assert full.size == (1001, 803)
    for fit in ("crop", "pad", "squash"):
        diff = np.abs(fit_square(small, 50, fit).astype(int) - fit_square(full, 50, fit))
        assert diff.mean() < 0.5, fit


def test_target_size_is_ignored_for_non_jpeg(tmp_path: Path) -> None:
    Image.fromarray(smooth(400, 600)).save(tmp_path / "a.png")
    assert read_gray(tmp_path / "a.png", 32).size == (600, 400)


# --- bad inputs -----------------------------------------------------------------------------


def _noisy_jpeg(path: Path, progressive: bool) -> bytes:
    arr = np.random.default_rng(1).integers(0, 256, (256, 256), dtype=np.uint8)
    Image.fromarray(arr).save(path, quality=90, progressive=progressive)
    return path.read_bytes()


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("target", [None, 16])
def test_truncated_jpeg_is_rejected(tmp_path: Path, progressive: bool, target: int | None) -> None:
    data = _noisy_jpeg(tmp_path / "full.jpg", progressive)
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(UnreadableImage, match=r"cut\.jpg: .*truncated"):
        read_gray(tmp_path / "cut.jpg", target)


def test_truncated_png_is_rejected(tmp_path: Path) -> None:
    Image.fromarray(smooth(64, 64)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImage, match=r"cut\.png: corrupt or truncated"):
        read_gray(tmp_path / "cut.png")


@pytest.mark.parametrize("name", ["empty.png", "empty.jpg", "empty.dcm", "EMPTY"])
def test_zero_byte_file_is_rejected(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(UnreadableImage, match=r"empty file \(0 bytes\)"):
        read_gray(tmp_path / name)
    with pytest.raises(UnreadableImage, match=r"empty file"):
        describe(tmp_path / name)


def test_text_file_named_png_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("patient list, not an image\n" * 20)
    for call in (read_gray, describe):
        with pytest.raises(UnreadableImage, match=r"notes\.png: not a recognised image file"):
            call(tmp_path / "notes.png")


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImage, match="cannot read file"):
        read_gray(tmp_path / "nope.jpg")


def test_text_file_named_dcm_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.dcm").write_text("hello\n" * 30)
    with pytest.raises(UnreadableImage, match=r"a\.dcm: (not a readable DICOM|DICOM file has no)"):
        read_gray(tmp_path / "a.dcm")


# --- DICOM ----------------------------------------------------------------------------------

RAMP12 = np.linspace(100, 3000, 96).round().astype(np.uint16).reshape(8, 12)


def linear_window(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1 LINEAR window onto 0..255, written out independently."""
    c, w = center - 0.5, width - 1
    y = ((x - c) / w + 0.5) * 255
    y = np.where(x <= c - w / 2, 0, np.where(x > c + w / 2, 255, y))
    return np.rint(y)


def minmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(float)
    return np.rint((x - x.min()) * 255 / (x.max() - x.min()))


def within_one(got: np.ndarray, expected: np.ndarray) -> bool:
    return bool(np.abs(got - expected).max() <= 1)


def test_dicom_16bit_without_window_is_min_max_stretched(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", RAMP12, bits_stored=12)
    assert np.array_equal(gray(path), minmax(RAMP12))


def test_dicom_monochrome1_is_inverted(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", RAMP12, bits_stored=12, photometric="MONOCHROME1")
    assert np.array_equal(gray(path), 255 - minmax(RAMP12))


def test_dicom_8bit_without_window_is_used_as_stored(tmp_path: Path) -> None:
    arr = np.linspace(10, 200, 48).astype(np.uint8).reshape(6, 8)
    assert np.array_equal(gray(write_dicom(tmp_path / "a.dcm", arr)), arr)
    inverted = write_dicom(tmp_path / "b.dcm", arr, photometric="MONOCHROME1")
    assert np.array_equal(gray(inverted), 255 - arr.astype(int))


def test_dicom_under_8_bits_is_scaled_by_its_bits_stored(tmp_path: Path) -> None:
    arr = np.arange(16, dtype=np.uint8).reshape(4, 4)
    path = write_dicom(tmp_path / "a.dcm", arr, bits_stored=4)
    assert np.array_equal(gray(path), arr * 17)


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_dicom_window_maps_the_window_to_0_255(tmp_path: Path, photometric: str) -> None:
    path = write_dicom(
        tmp_path / "a.dcm", RAMP12, bits_stored=12, window=(1500, 1000), photometric=photometric
    )
    expected = linear_window(RAMP12, 1500, 1000)
    if photometric == "MONOCHROME1":
        expected = 255 - expected
    got = gray(path)
    assert within_one(got, expected)
    assert (got == expected[0, 0]).sum() > 10 and (got == 255 - expected[0, 0]).sum() > 10


def test_dicom_8bit_with_window(tmp_path: Path) -> None:
    arr = np.arange(0, 256, 4, dtype=np.uint8).reshape(8, 8)
    path = write_dicom(tmp_path / "a.dcm", arr, window=(128, 64))
    assert within_one(gray(path), linear_window(arr, 128, 64))


def test_dicom_rescale_is_applied_before_the_window(tmp_path: Path) -> None:
    path = write_dicom(
        tmp_path / "a.dcm", RAMP12, bits_stored=12, slope=2.0, intercept=-1024.0,
        window=(2000, 3000),
    )  # fmt: skip
    assert within_one(gray(path), linear_window(RAMP12 * 2.0 - 1024, 2000, 3000))
    assert describe(path)["rescale"] is True


def test_dicom_rescale_without_window(tmp_path: Path) -> None:
    # A negative slope flips the values; min-max then runs over the rescaled values.
    path = write_dicom(tmp_path / "a.dcm", RAMP12, bits_stored=12, slope=-1.0, intercept=4095.0)
    assert np.array_equal(gray(path), 255 - minmax(RAMP12))


def test_dicom_sigmoid_window(tmp_path: Path) -> None:
    path = write_dicom(
        tmp_path / "a.dcm", RAMP12, bits_stored=12, window=(1500, 1000), voi_lut_function="SIGMOID"
    )
    expected = np.rint(255 / (1 + np.exp(-4 * (RAMP12 - 1500.0) / 1000)))
    assert within_one(gray(path), expected)


def test_dicom_voi_lut_sequence(tmp_path: Path) -> None:
    table = (np.sqrt(np.arange(4096) / 4095) * 4000).astype(np.uint16)
    path = write_dicom(tmp_path / "a.dcm", RAMP12, bits_stored=12, voi_lut=(0, table))
    expected = np.rint(table[RAMP12].astype(float) * 255 / table.max())
    assert within_one(gray(path), expected)
    assert describe(path)["windowing"] is True


def test_dicom_signed_pixels(tmp_path: Path) -> None:
    arr = np.linspace(-1000, 1000, 64).round().astype(np.int16).reshape(8, 8)
    assert np.array_equal(gray(write_dicom(tmp_path / "a.dcm", arr)), minmax(arr))


def test_dicom_rgb(tmp_path: Path) -> None:
    g = np.arange(0, 192, 3, dtype=np.uint8).reshape(8, 8)
    path = write_dicom(tmp_path / "a.dcm", np.stack([g, g, g], -1), photometric="RGB")
    assert np.array_equal(gray(path), g)
    assert describe(path)["mode"] == "RGB"


def test_dicom_without_preamble_or_file_meta(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", RAMP12, bits_stored=12, preamble=False)
    assert path.read_bytes()[128:132] != b"DICM"
    assert np.array_equal(gray(path), minmax(RAMP12))


def test_dicom_rle_lossless_is_decoded(tmp_path: Path) -> None:
    # RLE has a pure-pydicom encoder and decoder: a compressed syntax that always works.
    plain = write_dicom(tmp_path / "a.dcm", RAMP12, bits_stored=12, window=(1500, 1000))
    rle = write_dicom(
        tmp_path / "b.dcm", RAMP12, bits_stored=12, window=(1500, 1000), transfer_syntax=RLELossless
    )
    assert describe(rle)["compressed"] is True
    assert np.array_equal(gray(rle), gray(plain))


def test_dicom_jpeg_ls_decodes_with_the_optional_codecs() -> None:
    pytest.importorskip("pylibjpeg", reason="optional extra cxrgan[dicom-codecs] not installed")
    pytest.importorskip("libjpeg", reason="pylibjpeg-libjpeg not installed")
    reference = gray(Path(get_testdata_file("MR_small.dcm")))
    compressed = Path(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))
    assert describe(compressed)["decodable"] is True
    assert np.array_equal(gray(compressed), reference)


def test_dicom_jpeg_2000_is_decoded() -> None:
    if not get_decoder(pydicom.uid.JPEG2000Lossless).is_available:
        pytest.skip("no JPEG 2000 handler (Pillow without OpenJPEG, no pylibjpeg-openjpeg)")
    reference = gray(Path(get_testdata_file("MR_small.dcm")))
    assert np.array_equal(gray(Path(get_testdata_file("MR_small_jp2klossless.dcm"))), reference)


def test_dicom_without_installed_handler_names_the_syntax(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulate "pylibjpeg not installed" whether or not it is: empty the decoder's plugins.
    monkeypatch.setattr(get_decoder(JPEGLSLossless), "_available", {})
    path = write_dicom(
        tmp_path / "a.dcm", RAMP12, bits_stored=12, transfer_syntax=JPEGLSLossless,
        fake_encapsulated=True,
    )  # fmt: skip
    with pytest.raises(UnreadableImage) as exc:
        read_gray(path)
    message = str(exc.value)
    assert "JPEG-LS Lossless Image Compression (1.2.840.10008.1.2.4.80)" in message
    assert "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg" in message
    assert describe(path)["decodable"] is False


def test_dicom_with_a_syntax_no_decoder_exists_for(tmp_path: Path) -> None:
    path = write_dicom(
        tmp_path / "a.dcm", RAMP12, transfer_syntax=MPEG2MPML, fake_encapsulated=True
    )
    with pytest.raises(UnreadableImage, match=r"MPEG2 Main Profile / Main Level \(1\.2\.840\.10008\.1\.2\.4\.100\) is not supported"):  # noqa: E501
        read_gray(path)


def test_dicom_without_pixel_data(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", RAMP12, with_pixels=False)
    for call in (read_gray, describe):
        with pytest.raises(UnreadableImage, match="DICOM file has no pixel data"):
            call(path)


def test_dicom_multi_frame_is_rejected_with_the_frame_count(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", np.stack([RAMP12] * 3), bits_stored=12)
    with pytest.raises(UnreadableImage, match=r"multi-frame DICOM \(3 frames\)"):
        read_gray(path)
    assert describe(path)["frames"] == 3


def test_describe_dicom(tmp_path: Path) -> None:
    path = write_dicom(
        tmp_path / "a.dcm", RAMP12, bits_stored=12, photometric="MONOCHROME1", window=(1500, 900)
    )
    assert describe(path) == {
        "format": "DICOM", "mode": "I;16", "width": 12, "height": 8, "bit_depth": 16,
        "frames": 1, "photometric_interpretation": "MONOCHROME1", "bits_stored": 12,
        "bits_allocated": 16, "signed": False, "samples_per_pixel": 1, "modality": "DX",
        "transfer_syntax": "Explicit VR Little Endian",
        "transfer_syntax_uid": "1.2.840.10008.1.2.1", "compressed": False, "decodable": True,
        "windowing": True, "rescale": False,
    }  # fmt: skip


def test_describe_jpeg(tmp_path: Path) -> None:
    Image.fromarray(smooth(30, 50)).save(tmp_path / "a.jpg")
    assert describe(tmp_path / "a.jpg") == {
        "format": "JPEG", "mode": "L", "width": 50, "height": 30, "bit_depth": 8,
        "frames": 1, "exif_orientation": 1, "progressive": False,
    }  # fmt: skip


# --- patient data never leaks ---------------------------------------------------------------

SECRET_NAME = "Quixotic^Zebrafinch"
SECRETS = ("Quixotic", "Zebrafinch", "ZF-991-PRIVATE", "19010203")


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _secret_dicom(path: Path, **kwargs) -> Path:  # type: ignore[no-untyped-def]
    return write_dicom(
        path, RAMP12, bits_stored=12, patient_name=SECRET_NAME, patient_id="ZF-991-PRIVATE",
        birth_date="19010203", **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize(
    "kwargs",
    [
        {"with_pixels": False},
        {"transfer_syntax": MPEG2MPML, "fake_encapsulated": True},
        {"transfer_syntax": JPEGLSLossless, "fake_encapsulated": True},
        {"window": (100, 0)},  # pydicom refuses a zero window width
    ],
    ids=["no-pixels", "no-decoder", "missing-handler", "bad-window"],
)
def test_patient_data_never_appears_in_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kwargs: dict
) -> None:
    monkeypatch.setattr(get_decoder(JPEGLSLossless), "_available", {})
    path = _secret_dicom(tmp_path / "a.dcm", **kwargs)
    assert SECRET_NAME in str(pydicom.dcmread(path).PatientName)  # the file does hold it
    with pytest.raises(UnreadableImage) as exc:
        read_gray(path)
    assert not _leaks("".join(traceback.format_exception(exc.value))), str(exc.value)
    try:
        assert not _leaks(repr(describe(path)))
    except UnreadableImage as exc2:
        assert not _leaks(str(exc2))


def test_patient_data_quoted_by_a_library_error_is_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(ds: Dataset) -> np.ndarray:
        who = f"{ds.PatientName} / {ds.PatientID} born {ds.PatientBirthDate}"
        warnings.warn(f"about {who}", UserWarning, stacklevel=1)
        raise ValueError(f"cannot handle {who}")

    monkeypatch.setattr(Dataset, "pixel_array", property(boom))
    path = _secret_dicom(tmp_path / "a.dcm")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scrubbed = r"cannot handle \*\*\* / \*\*\* born \*\*\*"
        with pytest.raises(UnreadableImage, match=scrubbed) as exc:
            read_gray(path)
    assert not _leaks(str(exc.value))
    assert not any(_leaks(str(w.message)) for w in caught)  # library warnings are silenced
    # A logged traceback (logging.exception) shows no library message either.
    assert not _leaks("".join(traceback.format_exception(exc.value)))


def test_patient_data_never_appears_in_results(tmp_path: Path) -> None:
    path = _secret_dicom(tmp_path / "a.dcm", window=(1500, 1000))
    img = read_gray(path)
    assert img.info == {}
    assert not _leaks(repr(describe(path)))


# --- the shared Kermany originals -----------------------------------------------------------


def _headers(originals: Path) -> list[tuple[Path, tuple[int, int], str, bool]]:
    rows = []
    for path in sorted(originals.rglob("*.jpeg")):
        with Image.open(path) as img:
            rows.append((path, img.size, img.mode, bool(img.info.get("progressive"))))
    return rows


@pytest.mark.shared_data
def test_draft_decoding_matches_full_decoding_on_real_originals(originals: Path) -> None:
    """Mean |draft+crop - full+crop| on 8 originals: the 4 largest (1/8 scale at 64 px), two
    RGB and two progressive ones. Bound: each < 3 gray levels, their mean < 1."""
    rows = _headers(originals)
    by_size = sorted(rows, key=lambda r: -min(r[1]))
    chosen = by_size[:4]
    chosen += [r for r in rows if r[2] == "RGB" and min(r[1]) >= 512][:2]
    chosen += [r for r in rows if r[3] and min(r[1]) >= 512][:2]
    assert len(chosen) >= 6
    assert draft_scale(chosen[0][1], 64) == 8
    for size in (64, 128):
        mads = []
        for path, stored_size, *_ in chosen:
            full = fit_square(read_gray(path), size, "crop").astype(int)
            draft_img = read_gray(path, size)
            assert 2 * size <= min(draft_img.size) < min(stored_size)
            mads.append(np.abs(fit_square(draft_img, size, "crop") - full).mean())
        assert max(mads) < 3 and np.mean(mads) < 1, (size, mads)


@pytest.mark.shared_data
def test_every_original_describes_and_decodes(originals: Path) -> None:
    rows = _headers(originals)
    assert len(rows) >= 100
    for path, size, mode, progressive in rows:
        info = describe(path)
        assert (info["format"], info["mode"], info["progressive"]) == ("JPEG", mode, progressive)
        assert info["exif_orientation"] == 1  # README: tags present mean "normal"
        img = read_gray(path, 64)
        assert img.mode == "L" and min(img.size) >= min(128, *size)


@pytest.mark.shared_data
def test_rgb_original_equals_its_L_conversion(originals: Path) -> None:
    path = next(r[0] for r in _headers(originals) if r[2] == "RGB")
    with Image.open(path) as img:
        expected = np.asarray(img.convert("L")).astype(int)
        channels = np.asarray(img).astype(int)
    assert np.abs(channels - channels[..., :1]).max() <= 1  # R = G = B (within JPEG rounding)
    assert np.array_equal(gray(path), expected)
