/* lib/fileio.c: outputs that appear whole or not at all, alone or as a set;
 * missing directories made; temp files removed on a signal. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "test.h"

static char root[64];

static char *at(const char *name)
{
	static char buf[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", root, name);
	return buf[k];
}

static int exists(const char *name)
{
	struct stat st;
	return !stat(at(name), &st);
}

/* Entries of the directory (at(name)), "." and ".." not counted. */
static int entries(const char *name)
{
	DIR *d = opendir(at(name));
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static char *slurp(const char *name)
{
	static char buf[256];
	FILE *fp = fopen(at(name), "rb");
	size_t n = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
	if (fp)
		fclose(fp);
	buf[n] = 0;
	return buf;
}

int main(void)
{
	struct atomic_file a, b, c, *set[3] = {&a, &b, &c};
	strcpy(root, "/tmp/test_fileio.XXXXXX");
	if (!mkdtemp(root))
		return perror("mkdtemp"), 1;

	/* one file: invisible until committed */
	ok(!atomic_open(&a, at("one.txt")) && !exists("one.txt") && entries("") == 1, "open: only a temp file");
	fputs("one", a.fp);
	ok(!atomic_commit(&a) && !strcmp(slurp("one.txt"), "one") && entries("") == 1, "commit: the file, no temp");

	/* a set: all three appear together */
	ok(!atomic_open(&a, at("s/a")) && !atomic_open(&b, at("s/b")) && !atomic_open(&c, at("s/c")),
	   "a set of three, in a directory made for them");
	fputs("A", a.fp), fputs("B", b.fp), fputs("C", c.fp);
	ok(entries("s") == 3 && !exists("s/a"), "before the commit: three temp files");
	ok(!atomic_commit_set(set, 3) && !strcmp(slurp("s/a"), "A") && !strcmp(slurp("s/c"), "C") && entries("s") == 3,
	   "commit_set: all three, no temp left");

	/* the second rename fails (a non-empty directory in the way): none stays */
	ok(!atomic_open(&a, at("f/a")) && !atomic_open(&b, at("f/b")) && !atomic_open(&c, at("f/c")), "another set");
	mkdir(at("f/b"), 0777), mkdir(at("f/b/x"), 0777); /* after the open, as another process might */
	ok(atomic_commit_set(set, 3) < 0, "its commit fails");
	ok(!exists("f/a") && !exists("f/c") && entries("f") == 1 && exists("f/b/x"),
	   "the renamed one is taken back, the others' temp files removed, what was in the way kept");

	/* abort of everything: temp files and the directories made go */
	ok(!atomic_open(&a, at("d1/d2/x")) && exists("d1/d2") && entries("d1/d2") == 1, "open in new directories");
	atomic_abort_all();
	ok(!exists("d1"), "abort_all: the temp file and both directories removed");

	/* a file in the way of a directory: an error, not a crash */
	fclose(fopen(at("plain"), "w"));
	ok(atomic_open(&a, at("plain/x")) < 0, "a file where a directory should be: an error");

	/* a signal: the temp files and the directories made go, and the child dies of it */
	pid_t pid = fork();
	if (!pid) {
		struct atomic_file s1, s2;
		if (atomic_open(&s1, at("sig/n/1")) || atomic_open(&s2, at("sig/n/2")))
			_exit(3);
		raise(SIGTERM);
		_exit(4);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "SIGTERM: the program dies of it (status %d)", status);
	ok(!exists("sig"), "SIGTERM: no temp file, no directory left");

	/* an ignored signal stays ignored */
	pid = fork();
	if (!pid) {
		struct atomic_file s1;
		signal(SIGHUP, SIG_IGN);
		if (atomic_open(&s1, at("ign")))
			_exit(3);
		raise(SIGHUP);
		_exit(atomic_commit(&s1) ? 5 : 0);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && exists("ign"), "an ignored SIGHUP: the run goes on");

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", root);
	return test_done();
}
