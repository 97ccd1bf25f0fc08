"""An independent MTCNN detector for cross-checking src/detect: the published cascade
(kpzhang93's detect_face.m, as the facenet / `mtcnn` Python ports run it: OpenCV INTER_AREA
resizes, 1-based boxes, `fix`, `rerec`, `bbreg`, `pad`, NMS with +1 areas) with the nets
written in numpy and reading our .mtcnn weights files. Nothing is shared with the TypeScript
code except the weights.

Needs Debian's python3-numpy and python3-opencv (`/usr/bin/python3`). Used by
tests/detect_test.ts when available; run by hand:

    /usr/bin/python3 tests/reference/mtcnn_reference.py weights/original photo.jpg ...

Prints JSON {path: [{box: [x1, y1, x2, y2], score, landmarks: [x1, y1, ..., x5, y5]}]} in
0-based pixel coordinates (the original's 1-based values minus 1), as src/detect reports.
"""
import json
import struct
import sys

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def load_net(path):
    """Architecture (JSON header) and float32 tensors of a .mtcnn file."""
    data = open(path, "rb").read()
    if data[:8] != b"MTCNNWTS":
        raise ValueError(f"{path}: not a .mtcnn file")
    header_len = struct.unpack("<I", data[12:16])[0]
    header = json.loads(data[16:16 + header_len])
    start = (16 + header_len + 63) // 64 * 64
    params = {}
    for t in header["tensors"]:
        if t["dtype"] != "float32":
            raise ValueError(f"{path}: tensor {t['name']} is {t['dtype']}")
        count = int(np.prod(t["shape"]))
        params[t["name"]] = np.frombuffer(data, np.float32, count, start + t["offset"]).reshape(t["shape"])
    return header["arch"], params


def conv(x, w, b, stride=1):
    """Valid convolution, x NHWC, w HWIO."""
    win = sliding_window_view(x, w.shape[:2], axis=(1, 2))[:, ::stride, ::stride]
    return np.einsum("nhwcij,ijco->nhwo", win, w, optimize=True) + b


def max_pool(x, size, stride, rounding):
    """Max pooling, Caffe's ceil rounding (windows past the edge see only the pixels inside) or floor."""
    _, h, w, _ = x.shape
    rnd = np.ceil if rounding == "ceil" else np.floor
    oh, ow = int(rnd((h - size) / stride)) + 1, int(rnd((w - size) / stride)) + 1
    pad_h, pad_w = max((oh - 1) * stride + size - h, 0), max((ow - 1) * stride + size - w, 0)
    x = np.pad(x, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), constant_values=-np.inf)
    win = sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    return win.max(axis=(4, 5))[:, :oh, :ow]


def run_net(net, pixels):
    """Face probability, box regression and landmarks of a net on 0..255 RGB NHWC pixels."""
    arch, p = net
    inp = arch["input"]
    h = pixels.astype(np.float32)
    if inp["channelOrder"] == "BGR":
        h = h[..., ::-1]
    h = (h - np.float32(inp["mean"])) * np.float32(inp["scale"])
    out = {}
    for layer in arch["layers"]:
        kind, name = layer["kind"], layer.get("name")
        if kind in ("conv",):
            h = conv(h, p[name + ".weight"], p[name + ".bias"], layer["stride"])
        elif kind == "prelu":
            h = np.where(h > 0, h, h * p[name + ".alpha"])
        elif kind == "relu":
            h = np.maximum(h, 0)
        elif kind == "maxpool":
            h = max_pool(h, layer["size"], layer["stride"], layer["rounding"])
        elif kind == "flatten":
            h = h.reshape(h.shape[0], -1)
        elif kind == "dense":
            h = h @ p[name + ".weight"] + p[name + ".bias"]
        elif kind in ("cls", "box", "landmarks"):
            w, b = p[name + ".weight"], p[name + ".bias"]
            o = conv(h, w, b) if h.ndim == 4 else h @ w + b
            if kind == "cls":
                e = np.exp(o - o.max(-1, keepdims=True))
                o = (e / e.sum(-1, keepdims=True))[..., 1]
            out[kind] = o
        else:
            raise ValueError(f"layer kind {kind} is not supported here")
    return out


def nms(boxes, threshold, mode):
    """The original's greedy NMS: +1 areas, drop overlaps > threshold, highest score first."""
    if len(boxes) == 0:
        return np.empty((0,), np.int64)
    x1, y1, x2, y2, s = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(s, kind="stable")
    pick = []
    while order.size > 0:
        i, rest = order[-1], order[:-1]
        pick.append(i)
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = iw * ih
        if mode == "min":
            overlap = inter / np.minimum(area[i], area[rest])
        else:
            overlap = inter / (area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.array(pick, np.int64)


def bbreg(boxes, reg):
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.copy()
    out[:, 0:4] += reg * np.stack([w, h, w, h], 1)
    return out


def rerec(boxes):
    out = boxes.copy()
    w = out[:, 2] - out[:, 0]
    h = out[:, 3] - out[:, 1]
    side = np.maximum(w, h)
    out[:, 0] += w * 0.5 - side * 0.5
    out[:, 1] += h * 0.5 - side * 0.5
    out[:, 2:4] = out[:, 0:2] + side[:, None]
    return out


def crops(img, boxes, size):
    """Each (1-based, integer) box copied into a zero canvas (the original's pad) and resized."""
    height, width = img.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(np.int64)):
        canvas = np.zeros((y2 - y1 + 1, x2 - x1 + 1, 3), np.uint8)
        sx, sy, ex, ey = max(x1, 1), max(y1, 1), min(x2, width), min(y2, height)
        if ex >= sx and ey >= sy:
            canvas[sy - y1:ey - y1 + 1, sx - x1:ex - x1 + 1] = img[sy - 1:ey, sx - 1:ex]
        out[k] = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return out


def detect(img, pnet, rnet, onet, min_size=20, thresholds=(0.6, 0.7, 0.7), factor=0.709):
    height, width = img.shape[:2]
    m = 12.0 / min_size
    side = min(height, width) * m
    scales = []
    while side >= 12:
        scales.append(m * factor ** len(scales))
        side *= factor
    total = np.empty((0, 9))
    for scale in scales:
        hs, ws = int(np.ceil(height * scale)), int(np.ceil(width * scale))
        level = cv2.resize(img, (ws, hs), interpolation=cv2.INTER_AREA)[None]
        out = run_net(pnet, level)
        prob, reg = out["cls"][0], out["box"][0]
        rows, cols = np.where(prob >= thresholds[0])
        cells = np.stack([cols, rows], 1).astype(np.float64)
        q1 = np.fix((2 * cells + 1) / scale)
        q2 = np.fix((2 * cells + 12) / scale)
        boxes = np.hstack([q1, q2, prob[rows, cols][:, None], reg[rows, cols]])
        total = np.vstack([total, boxes[nms(boxes, 0.5, "union")]])
    points = np.empty((0, 10))
    if len(total):
        total = total[nms(total, 0.7, "union")]
        rw, rh = total[:, 2] - total[:, 0], total[:, 3] - total[:, 1]
        total = np.hstack([total[:, 0:4] + total[:, 5:9] * np.stack([rw, rh, rw, rh], 1), total[:, 4:5]])
        total = rerec(total)
        total[:, 0:4] = np.fix(total[:, 0:4])
        out = run_net(rnet, crops(img, total, 24))
        keep = out["cls"] > thresholds[1]
        total = np.hstack([total[keep, 0:4], out["cls"][keep, None]])
        reg = out["box"][keep]
        if len(total):
            pick = nms(total, 0.7, "union")
            total = rerec(bbreg(total[pick], reg[pick]))
    if len(total):
        total[:, 0:4] = np.fix(total[:, 0:4])
        out = run_net(onet, crops(img, total, 48))
        keep = out["cls"] > thresholds[2]
        total = np.hstack([total[keep, 0:4], out["cls"][keep, None]])
        reg = out["box"][keep]
        points = out["landmarks"][keep].astype(np.float64)
        w = total[:, 2] - total[:, 0] + 1
        h = total[:, 3] - total[:, 1] + 1
        points[:, 0::2] = w[:, None] * points[:, 0::2] + total[:, 0:1] - 1
        points[:, 1::2] = h[:, None] * points[:, 1::2] + total[:, 1:2] - 1
        if len(total):
            total = bbreg(total, reg)
            pick = nms(total, 0.7, "min")
            total, points = total[pick], points[pick]
    return total, points


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: mtcnn_reference.py WEIGHTS_DIR IMAGE...")
    pnet, rnet, onet = (load_net(f"{argv[0]}/{n}.mtcnn") for n in ("pnet", "rnet", "onet"))
    result = {}
    for path in argv[1:]:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            sys.exit(f"cannot read {path}")
        boxes, points = detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), pnet, rnet, onet)
        result[path] = [
            {"box": (b[:4] - 1).tolist(), "score": float(b[4]), "landmarks": (p - 1).tolist()}
            for b, p in zip(boxes, points)
        ]
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
