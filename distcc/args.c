/* args.c - the object, input and deps file in distccd's compiler command line. */
#include "args.h"

#include <errno.h>
#include <string.h>

#include "error.h"

/* What distcc 3.4's dcc_is_source (filename.c) takes for a source file,
 * without ENABLE_REMOTE_ASSEMBLE (.s, .S; off unless configured). Its temp
 * input gets one of the preprocessed ones (dcc_preproc_exten); a pump-mode
 * job keeps the client's. */
static const char *const source_exts[] = {
    "i", "ii", "c", "cc", "cpp", "cxx", "cp", "c++", "C", "m", "mm", "mi", "mii", "M", NULL,
};

static int is_source(const char *arg)
{
    const char *dot = strrchr(arg, '.');
    const char *slash = strrchr(arg, '/');

    if (!dot || (slash && slash > dot))
        return 0;
    for (size_t i = 0; source_exts[i]; i++)
        if (strcmp(dot + 1, source_exts[i]) == 0)
            return 1;
    return 0;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

const char *cpd_arg_path(char *const *argv, struct cpd_arg_ref ref)
{
    return ref.index < 0 ? NULL : argv[ref.index] + ref.offset;
}

int cpd_args_scan(int argc, char *const *argv, struct cpd_args *a, struct cps_error *err)
{
    const char *hint = "this program is run by distccd with the command line it builds";
    int outputs = 0;

    a->object = a->input = a->deps = (struct cpd_arg_ref){-1, 0};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];

        if (s[0] != '-') {
            if (!is_source(s))
                continue;
            if (a->input.index >= 0)
                return cpd_fail(err, "args", EINVAL, hint, "two input files: %s and %s",
                                argv[a->input.index], s);
            a->input = (struct cpd_arg_ref){i, 0};
        } else if (strcmp(s, "-MF") == 0 || strcmp(s, "-MT") == 0 || strcmp(s, "-MQ") == 0) {
            if (i + 1 >= argc)
                return cpd_fail(err, "args", EINVAL, hint, "%s without a value", s);
            if (s[2] == 'F')
                a->deps = (struct cpd_arg_ref){i + 1, 0};
            i++;
        } else if (starts_with(s, "-MF")) {
            a->deps = (struct cpd_arg_ref){i, 3};
        } else if (strcmp(s, "-o") == 0) {
            if (i + 1 >= argc)
                return cpd_fail(err, "args", EINVAL, hint, "-o without a value");
            if (outputs++ == 0)
                a->object = (struct cpd_arg_ref){i + 1, 0};
            i++;
        } else if (starts_with(s, "-o")) {
            if (outputs++ == 0)
                a->object = (struct cpd_arg_ref){i, 2};
        }
    }
    if (outputs != 1)
        return cpd_fail(err, "args", EINVAL, hint,
                        "%d output files (-o) in the command line, distccd sets exactly one",
                        outputs);
    return 0;
}
