"""
Turn a page's screencast frames into an H.264 MP4, and describe it as an HLS playlist.

The encoder is PyAV (``av`` on PyPI), chosen over Debian's ``ffmpeg`` program: its wheels carry FFmpeg
with ``libx264`` for every platform we run on (Linux x86-64 and arm64, macOS), so ``pip install`` is the
whole set-up on a developer's machine, in CI and in an Airflow image alike, without root or a second
binary to find; frames go to the encoder in-process, no pipe or temporary file per frame. It is imported
here only, when a recording is assembled, so an idle server never loads it.

Frames arrive only when the page paints, so the video has a variable frame rate: each frame's
presentation time is its capture time (milliseconds since the page's recording began). The last picture
is held until the page's end, so the video lasts as long as the page was open.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

MS = Fraction(1, 1000)
# x264's cheapest preset: a debugging video needs to be legible, not small; one thread per assembly so
# a server assembling several pages does not take every core from the browsers.
X264_OPTIONS = {"preset": "ultrafast", "crf": "30", "threads": "1"}
# A page closed before its first paint still gets a playable video: one blank frame of this size.
BLANK_SIZE = (320, 200)


def encode_mp4(frames: list[tuple[int, Path]], started_ms: int, ended_ms: int, out: Path) -> int:
    """
    Write ``frames`` ((capture epoch ms, JPEG file), in order) to ``out`` as H.264 in MP4.

    :param started_ms: The page's recording start (the video's time zero).
    :param ended_ms: The page's end; the last frame is shown until then.
    :return: The number of frames encoded.
    """
    import av

    tmp = out.with_name(out.name + ".part")
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=1000, options=X264_OPTIONS)
        stream.codec_context.time_base = MS
        stream.pix_fmt = "yuv420p"
        size: tuple[int, int] | None = None
        last_pts = -1
        last_image: av.VideoFrame | None = None
        count = 0
        for at_ms, path in frames:
            image = _decode_jpeg(path)
            if image is None:
                continue
            if size is None:
                # H.264 in yuv420p needs even sides; later frames (a resized viewport) are scaled to fit.
                size = (image.width - image.width % 2, image.height - image.height % 2)
                stream.width, stream.height = size
            last_image = image.reformat(width=size[0], height=size[1], format="yuv420p")
            last_pts = max(at_ms - started_ms, last_pts + 1)
            last_image.pts = last_pts
            last_image.time_base = MS
            container.mux(stream.encode(last_image))
            count += 1
        if last_image is None:
            stream.width, stream.height = BLANK_SIZE
            last_image = av.VideoFrame(*BLANK_SIZE, "yuv420p")
            for plane, value in zip(last_image.planes, (16, 128, 128), strict=True):  # black
                plane.update(bytes([value]) * plane.buffer_size)
            last_image.pts, last_image.time_base, last_pts = 0, MS, 0
            container.mux(stream.encode(last_image))
            count = 1
        # The last picture again at the page's end, so players show it for as long as the page lasted.
        last_image.pts = max(ended_ms - started_ms, last_pts + 1)
        last_image.time_base = MS
        container.mux(stream.encode(last_image))
        container.mux(stream.encode(None))
    tmp.replace(out)
    return count


def _decode_jpeg(path: Path) -> av.VideoFrame | None:
    import av

    try:
        with av.open(str(path)) as image:
            for frame in image.decode(video=0):
                return frame
    except (av.FFmpegError, OSError):
        return None  # a frame cut short when the server stopped: skipped
    return None


def remux_ts(mp4: Path, out: Path) -> None:
    """
    Copy the MP4's H.264 stream into MPEG-TS, the segment format every HLS player reads (no re-encoding:
    the same video; the muxer adds the Annex B start codes itself).
    """
    import av

    tmp = out.with_name(out.name + ".part")
    with av.open(str(mp4)) as source, av.open(str(tmp), mode="w", format="mpegts") as target:
        video = source.streams.video[0]
        stream = target.add_stream_from_template(video)
        for packet in source.demux(video):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = stream
            target.mux(packet)
    tmp.replace(out)


def hls_playlist(video_url: str, duration_s: float) -> str:
    """
    An HLS VOD media playlist whose one segment is the page's video at ``video_url`` (MPEG-TS).

    The playlist is what Browserbase's shape promises: a VOD playlist per page, its segment a short-lived
    signed URL.
    """
    target = max(1, int(duration_s + 0.999))
    return (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        f"#EXT-X-TARGETDURATION:{target}\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:{duration_s:.3f},\n"
        f"{video_url}\n"
        "#EXT-X-ENDLIST\n"
    )


if TYPE_CHECKING:
    import av
