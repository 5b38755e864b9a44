// The Python side of call sites: a sitecustomize module put on PYTHONPATH
// for the run that collects sites. Before each file call it announces the
// innermost frame outside the standard library by opening CC_SITE_MARKER +
// "file:line" (shared.h), which both backends answer with ENOENT without
// counting it; the thread's next intercepted call takes the site. Opens,
// renames, removals, mkdir, chmod and truncate raise audit events; fsync,
// fdatasync, write, close and sync have none, so those os functions are
// wrapped. What the writer does is unchanged: the same calls, results and
// errors; only the baseline run carries the hook. Buffered file objects'
// writes and closes (`with open(...)`) have no Python site.
#include "sites.hpp"

namespace crashcheck::faults::sites {
namespace {

constexpr std::string_view kHook = R"PY(# crashcheck call sites (faults/README.md, "Call sites"); generated, do not edit
def _crashcheck_sites():
    import os, sys

    marker = MARKER
    here = __file__
    stdlib = os.path.dirname(os.__file__) + os.sep
    real_open = os.open

    def site():
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if not (name.startswith(stdlib) or name.startswith("<frozen") or name == here):
                return name + ":" + str(frame.f_lineno)
            frame = frame.f_back
        return None

    def announce():
        where = site()
        if where is not None:
            try:
                real_open(marker + where, os.O_RDONLY)
            except OSError:
                pass

    audited = frozenset(("os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.truncate",
                         "os.link", "os.chown"))

    def hook(event, args):
        if event == "open":
            path = args[0]
            # an open of a descriptor (os.fdopen) makes no open call
            if isinstance(path, (str, bytes)) and not (isinstance(path, str) and path.startswith(marker)):
                announce()
        elif event in audited:
            announce()

    def wrap(name):
        real = getattr(os, name, None)
        if real is None:
            return
        def call(*args, **kwargs):
            announce()
            return real(*args, **kwargs)
        call.__name__ = real.__name__
        call.__qualname__ = real.__qualname__
        call.__doc__ = real.__doc__
        call.__wrapped__ = real
        setattr(os, name, call)

    for name in ("fsync", "fdatasync", "write", "pwrite", "close", "sync"):
        wrap(name)
    sys.addaudithook(hook)

    # the writer's own sitecustomize, if it has one, still runs
    try:
        sys.path.remove(os.path.dirname(here))
    except ValueError:
        pass
    me = sys.modules.pop("sitecustomize")
    try:
        import sitecustomize
    except ImportError as e:
        sys.modules["sitecustomize"] = me  # the import machinery takes it back from there
        if e.name != "sitecustomize":
            raise


_crashcheck_sites()
del _crashcheck_sites
)PY";

}  // namespace

void add_python_hook(Launch& launch, const std::filesystem::path& work_dir) {
  const auto dir = work_dir / "python-sites";
  std::filesystem::create_directories(dir);
  write_hook(dir / "sitecustomize.py", kHook);
  std::string& path = launch.environment["PYTHONPATH"];  // the launch's environment is the whole of it
  path = dir.string() + (path.empty() ? "" : ":" + path);
}

}  // namespace crashcheck::faults::sites
