"""Files a person names: images beside a command-line document, read without surprises."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from publisher.domain.announcement import Media
from publisher.engine.media import MediaError, clean
from publisher.sources.files import image_of

PHOTOGRAPHER = "Max Mustermann"


def photo() -> bytes:
    """A JPEG of 20 x 10 pixels whose EXIF names the photographer."""
    exif = Image.Exif()
    exif[0x013B] = PHOTOGRAPHER
    out = io.BytesIO()
    Image.new("RGB", (20, 10), "red").save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def encoded(image_format: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(out, image_format)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_an_image_is_read_from_a_path_relative_to_the_document_and_cleaned(tmp_path: Path) -> None:
    (tmp_path / "bilder").mkdir()
    (tmp_path / "bilder" / "karte.jpg").write_bytes(photo())

    cleaned = clean(image_of(Media(path="bilder/karte.jpg", alt="Karte"), tmp_path), "Karte")

    assert opened(cleaned.data).size == (20, 10)
    assert PHOTOGRAPHER.encode() not in cleaned.data


def test_reading_and_cleaning_write_nothing(tmp_path: Path) -> None:
    (tmp_path / "karte.jpg").write_bytes(photo())

    clean(image_of(Media(path="karte.jpg", alt="Karte"), tmp_path), "Karte")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["karte.jpg"]


def test_base64_data_is_the_image_itself() -> None:
    raw = encoded("PNG")
    assert image_of(Media(data=base64.b64encode(raw).decode(), alt="Karte"), None) == raw


def test_a_path_is_refused_where_no_files_may_be_read() -> None:
    with pytest.raises(MediaError) as caught:
        image_of(Media(path="/etc/passwd", alt="x"), None)

    assert str(caught.value) == "send the image itself as base64 data; file paths are only read from the command line"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        image_of(Media(path="fehlt.jpg", alt="x"), tmp_path)

    assert str(caught.value) == "there is no file 'fehlt.jpg' in the document's folder"


def test_a_file_over_8_mb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with open(tmp_path / "riesig.jpg", "wb") as big:
        big.truncate(8 * 1024 * 1024 + 1)

    with pytest.raises(MediaError, match=r"^is larger than 8 MiB$"):
        image_of(Media(path="riesig.jpg", alt="x"), tmp_path)


def test_a_directory_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "bilder").mkdir()

    with pytest.raises(MediaError, match=r"^cannot read .*bilder"):
        image_of(Media(path="bilder", alt="x"), tmp_path)


OUTSIDE = "must be a file in the document's folder or below it (got {!r})"


@pytest.mark.parametrize("path", ["/etc/hostname", "/nowhere/at/all.png", "../geheim.png", "bilder/../../geheim.png"])
def test_a_command_line_document_reads_images_only_from_its_own_folder(tmp_path: Path, path: str) -> None:
    folder = tmp_path / "meldung"
    (folder / "bilder").mkdir(parents=True)
    (tmp_path / "geheim.png").write_bytes(encoded("PNG"))

    with pytest.raises(MediaError) as refused:
        image_of(Media(path=path, alt="x"), folder)

    # The same words whether or not something exists there: a document cannot ask about other files.
    assert str(refused.value) == OUTSIDE.format(path)


def test_a_symbolic_link_out_of_the_folder_is_refused_and_one_within_it_is_followed(tmp_path: Path) -> None:
    folder = tmp_path / "meldung"
    folder.mkdir()
    (tmp_path / "geheim.png").write_bytes(encoded("PNG"))
    (folder / "karte.png").write_bytes(encoded("PNG"))
    (folder / "raus.png").symlink_to(tmp_path / "geheim.png")
    (folder / "null.png").symlink_to("/dev/zero")
    (folder / "drin.png").symlink_to(folder / "karte.png")

    for link in ("raus.png", "null.png"):
        with pytest.raises(MediaError) as refused:
            image_of(Media(path=link, alt="x"), folder)
        assert str(refused.value) == OUTSIDE.format(link)
    assert image_of(Media(path="drin.png", alt="Karte"), folder) == encoded("PNG")


def test_a_pipe_in_the_folder_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "bild.png")

    with pytest.raises(MediaError) as refused:
        image_of(Media(path="bild.png", alt="x"), tmp_path)

    assert str(refused.value) == "cannot read 'bild.png': it is not a regular file"
