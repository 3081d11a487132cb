"""Writes train.csv and test.csv: samples of y = sin(x1)·cos(x2) + x3² on [-1.5, 1.5]³.

usage: python3 make_data.py [DIR]   (only the standard library)"""
import math
import os
import random
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "."
random.seed(1)
for name, n in (("train.csv", 4000), ("test.csv", 500)):
    with open(os.path.join(out, name), "w") as f:
        f.write("x1,x2,x3,y\n")
        for _ in range(n):
            x1, x2, x3 = (random.uniform(-1.5, 1.5) for _ in range(3))
            f.write(f"{x1:.6f},{x2:.6f},{x3:.6f},{math.sin(x1) * math.cos(x2) + x3 * x3:.9g}\n")
