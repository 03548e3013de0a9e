/* LLVM for the JIT (xlate/jit/llvm.py), through the C functions of llvmlite's library (its
 * LLVMPY_* layer, which llvmlite's Python binding wraps), loaded here by path at run time.
 *
 * A compilation is one call from Python, and so gives up Python's GIL once: the compiling thread
 * called LLVM a step at a time (parse, verify, optimise, emit, and the calls that make and free
 * their objects), and each return took the GIL back, which costs up to a switch interval (5 ms)
 * when the guest's thread is running Python (its lower tiers): a quick compilation of nbody's
 * took 7 times as long beside a thread busy in Python as alone.
 *
 * The functions are declared as the llvmlite release that pyproject.toml names has them (the
 * Python side checks the release before it opens the library). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static struct {
    void (*InitializeNativeTarget)(void);
    void (*InitializeNativeAsmPrinter)(void);
    void (*DisposeString)(const char *);
    void (*GetDefaultTargetTriple)(const char **);
    void *(*GetTargetFromTriple)(const char *, const char **);
    void (*GetHostCPUName)(const char **);
    int (*GetHostCPUFeatures)(const char **);
    void *(*CreateTargetMachine)(void *target, const char *triple, const char *cpu,
                                 const char *features, int opt_level, const char *reloc,
                                 const char *code_model, int print_mc, int jit,
                                 const char *abi_name);
    void (*GetTargetMachineTriple)(void *, const char **);
    void *(*CreateTargetMachineData)(void *);
    void (*CopyStringRepOfTargetData)(void *, const char **);
    void (*DisposeTargetData)(void *);
    void *(*TargetMachineEmitToMemory)(void *machine, void *module, int object, const char **);
    const char *(*GetBufferStart)(void *);
    size_t (*GetBufferSize)(void *);
    void (*DisposeMemoryBuffer)(void *);
    void (*DisposeTargetMachine)(void *);
    void *(*ContextCreate)(void);
    void (*ContextDispose)(void *);
    void *(*ParseAssembly)(void *context, const char *ir, const char **);
    int (*VerifyModule)(void *, const char **);
    void (*SetDataLayout)(void *, const char *);
    void (*SetTarget)(void *, const char *);
    void (*PrintModuleToString)(void *, const char **);
    void (*DisposeModule)(void *);
    void *(*CreatePipelineTuningOptions)(void);
    void (*DisposePipelineTuningOptions)(void *);
    void *(*CreatePassBuilder)(void *machine, void *options);
    void (*DisposePassBuilder)(void *);
    void *(*buildPerModuleDefaultPipeline)(void *builder, int opt_level);
    void *(*CreateNewModulePassManager)(void);
    void (*module_AddAlwaysInlinerPass)(void *);
    void (*RunNewModulePassManager)(void *passes, void *module, void *builder);
    void (*DisposeNewModulePassManger)(void *);
} llvm;

/* The names of llvm's fields, in order, without their LLVMPY_ prefix. */
static const char *const names[] = {
    "InitializeNativeTarget", "InitializeNativeAsmPrinter", "DisposeString",
    "GetDefaultTargetTriple", "GetTargetFromTriple", "GetHostCPUName", "GetHostCPUFeatures",
    "CreateTargetMachine", "GetTargetMachineTriple", "CreateTargetMachineData",
    "CopyStringRepOfTargetData", "DisposeTargetData", "TargetMachineEmitToMemory",
    "GetBufferStart", "GetBufferSize", "DisposeMemoryBuffer", "DisposeTargetMachine",
    "ContextCreate", "ContextDispose", "ParseAssembly", "VerifyModule", "SetDataLayout",
    "SetTarget", "PrintModuleToString", "DisposeModule", "CreatePipelineTuningOptions",
    "DisposePipelineTuningOptions", "CreatePassBuilder", "DisposePassBuilder",
    "buildPerModuleDefaultPipeline", "CreateNewModulePassManager",
    "module_AddAlwaysInlinerPass", "RunNewModulePassManager", "DisposeNewModulePassManger"};

_Static_assert(sizeof llvm == sizeof names / sizeof *names * sizeof(void (*)(void)),
               "one name for each of llvm's functions");

int xlate_llvm_open(const char *library_path, char *error, size_t error_size)
{
    void *library = dlopen(library_path, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(error, error_size, "%s", dlerror());
        return -1;
    }
    void (**function)(void) = (void (**)(void))&llvm;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char name[64];
        snprintf(name, sizeof name, "LLVMPY_%s", names[i]);
        *(void **)&function[i] = dlsym(library, name);
        if (!function[i]) {
            snprintf(error, error_size, "it has no %s", name);
            return -1;
        }
    }
    llvm.InitializeNativeTarget();
    llvm.InitializeNativeAsmPrinter();
    return 0;
}

/* Copies LLVM's string (or "" for none) into out, frees it and forgets it: the variable is
 * passed to LLVM again, which sets it only on some paths. */
static void take_string(const char **string, char *out, size_t size)
{
    snprintf(out, size, "%s", *string ? *string : "");
    if (*string)
        llvm.DisposeString(*string);
    *string = NULL;
}

xlate_llvm_machine *xlate_llvm_machine_new(int opt_level, const char *reloc,
                                           const char *code_model, char *error,
                                           size_t error_size)
{
    const char *triple = NULL, *message = NULL, *cpu = NULL, *features = NULL;
    llvm.GetDefaultTargetTriple(&triple);
    void *target = llvm.GetTargetFromTriple(triple, &message);
    xlate_llvm_machine *machine = NULL;
    if (!target) {
        snprintf(error, error_size, "no target for %s: %s", triple, message ? message : "");
        goto done;
    }
    llvm.GetHostCPUName(&cpu);
    int found = llvm.GetHostCPUFeatures(&features);
    void *ref = llvm.CreateTargetMachine(target, triple, cpu, found ? features : "", opt_level,
                                         reloc, code_model, 0, 0, "");
    if (!ref) {
        snprintf(error, error_size, "cannot create a target machine");
        goto done;
    }
    machine = calloc(1, sizeof *machine);
    if (!machine) {
        llvm.DisposeTargetMachine(ref);
        snprintf(error, error_size, "out of memory");
        goto done;
    }
    machine->ref = ref;
    machine->opt_level = opt_level;
    const char *string = NULL;
    llvm.GetTargetMachineTriple(ref, &string);
    take_string(&string, machine->triple, sizeof machine->triple);
    void *data = llvm.CreateTargetMachineData(ref);
    llvm.CopyStringRepOfTargetData(data, &string);
    take_string(&string, machine->data_layout, sizeof machine->data_layout);
    llvm.DisposeTargetData(data);
done: {
    /* (each string LLVMPY returns is a copy of its own, freed with DisposeString) */
    const char *strings[] = {triple, message, cpu, features};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        if (strings[i])
            llvm.DisposeString(strings[i]);
}
    return machine;
}

void xlate_llvm_machine_free(xlate_llvm_machine *machine)
{
    llvm.DisposeTargetMachine(machine->ref);
    free(machine);
}

void *xlate_llvm_context_new(void)
{
    return llvm.ContextCreate();
}

void xlate_llvm_context_free(void *context)
{
    llvm.ContextDispose(context);
}

/* LLVM's default pipeline at the machine's level; at level 0, the always-inliner alone. */
static void optimise(xlate_llvm_machine *machine, void *module)
{
    void *options = llvm.CreatePipelineTuningOptions();
    void *builder = llvm.CreatePassBuilder(machine->ref, options);
    void *passes = machine->opt_level
        ? llvm.buildPerModuleDefaultPipeline(builder, machine->opt_level)
        : llvm.CreateNewModulePassManager();
    if (!machine->opt_level)
        llvm.module_AddAlwaysInlinerPass(passes);
    llvm.RunNewModulePassManager(passes, module, builder);
    llvm.DisposeNewModulePassManger(passes);
    llvm.DisposePassBuilder(builder);
    llvm.DisposePipelineTuningOptions(options);
}

int xlate_llvm_compile(void *context, xlate_llvm_machine *machine, const char *ir, int flags,
                       xlate_llvm_output *out, char *error, size_t error_size)
{
    const char *message = NULL;
    memset(out, 0, sizeof *out);
    void *module = llvm.ParseAssembly(context, ir, &message);
    if (!module || message) {
        take_string(&message, error, error_size);
        if (module)
            llvm.DisposeModule(module);
        return XLATE_LLVM_PARSE_ERROR;
    }
    int status = XLATE_LLVM_OK;
    if (flags & XLATE_LLVM_PREPARE) {
        if (llvm.VerifyModule(module, &message)) {
            take_string(&message, error, error_size);
            status = XLATE_LLVM_INVALID;
            goto done;
        }
        take_string(&message, error, error_size);
        llvm.SetDataLayout(module, machine->data_layout);
        llvm.SetTarget(module, machine->triple);
        optimise(machine, module);
    }
    if (flags & XLATE_LLVM_EMIT) {
        out->buffer = llvm.TargetMachineEmitToMemory(machine->ref, module, 1, &message);
        if (!out->buffer) {
            take_string(&message, error, error_size);
            status = XLATE_LLVM_EMIT_ERROR;
            goto done;
        }
        out->data = llvm.GetBufferStart(out->buffer);
        out->size = llvm.GetBufferSize(out->buffer);
    } else {
        llvm.PrintModuleToString(module, &message);
        out->text = message;
        out->data = message;
        out->size = strlen(message);
    }
done:
    llvm.DisposeModule(module);
    return status;
}

void xlate_llvm_output_free(xlate_llvm_output *out)
{
    if (out->buffer)
        llvm.DisposeMemoryBuffer(out->buffer);
    if (out->text)
        llvm.DisposeString(out->text);
    memset(out, 0, sizeof *out);
}
