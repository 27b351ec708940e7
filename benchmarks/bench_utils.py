"""Small helpers shared by the benchmark scripts (run from this folder,
which Python puts on ``sys.path``)."""
import platform


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (results name their hardware)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'
