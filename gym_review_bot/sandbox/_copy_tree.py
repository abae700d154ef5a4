"""Runs in the build's holder container (`python3 -I`, standard library only): copy the installed
virtualenv off the install's tmpfs into the holder's own filesystem, within a byte budget.

    _copy_tree.py SOURCE DESTINATION BUDGET

The install container has exited (none of the pull request's processes is left) and SOURCE is mounted
read-only. Symbolic links are copied as links, never followed; only directories, regular files and
links are copied; set-id bits are dropped; times are kept (so the .pyc files stay valid). Each entry
counts 512 bytes besides its content: sparse files, hard links and a flood of empty files cannot make
the copy larger than BUDGET. Exit code 3: over the budget.
"""

import os
import shutil
import stat
import sys

SKIP = ".gym-review-tmp"  # the install's own scratch space (TMPDIR), never part of the virtualenv
ENTRY_BYTES = 512
OVER_BUDGET = 3


def main() -> None:
    source, destination, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
    used = 0

    def spend(n: int) -> None:
        nonlocal used
        used += n
        if used > budget:
            print(f"gym-review-copy: over the budget of {budget} bytes", flush=True)
            raise SystemExit(OVER_BUDGET)

    directories = []
    stack = [(source, destination)]
    while stack:
        src_dir, dst_dir = stack.pop()
        with os.scandir(src_dir) as entries:
            names = sorted(e.name for e in entries)
        for name in names:
            if src_dir == source and name == SKIP:
                continue
            spend(ENTRY_BYTES)
            src, dst = os.path.join(src_dir, name), os.path.join(dst_dir, name)
            st = os.lstat(src)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), dst)
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
            elif stat.S_ISDIR(st.st_mode):
                os.mkdir(dst, 0o700)
                directories.append((dst, st))
                stack.append((src, dst))
            elif stat.S_ISREG(st.st_mode):
                spend(st.st_size)  # nothing changes the source now: its size is what the copy writes
                shutil.copyfile(src, dst, follow_symlinks=False)  # sendfile(2)
                os.chmod(dst, stat.S_IMODE(st.st_mode) & 0o777)
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    for path, st in reversed(directories):  # after their content: a read-only directory is filled first
        os.chmod(path, stat.S_IMODE(st.st_mode) & 0o777)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    print(f"gym-review-copy: {used} bytes", flush=True)


if __name__ == "__main__":
    main()
