# Learning curves of a tf-train --csv log: the training loss (every logged
# step) and the validation SDR of each stem and their mean, against hours
# of training.
#   gnuplot -e "csv='run.csv'; png='curves.png'" pipelines/plot.gp
if (!exists("csv")) csv = 'train.csv'
if (!exists("png")) png = 'learning-curves.png'
if (!exists("title")) title = csv
set datafile separator ','
set terminal pngcairo size 1000,700 font ',10'
set output png
set multiplot layout 2,1 title title
set key outside right
set grid
set xlabel 'hours of training'
set xrange [0:*]
train = sprintf("< grep '^train,' '%s'", csv)
valid = sprintf("< grep '^valid,' '%s'", csv)
names = system(sprintf("head -n 1 '%s' | tr ',' ' '", csv))
ncols = words(names)
set ylabel 'loss (spectral L1)'
set logscale y
plot train using ($4/3600):5 with lines lw 1 lc rgb '#888888' title 'train loss'
unset logscale y
set ylabel 'validation SDR (dB)'
# a run with --valid 0 has no validation rows: say so rather than fail
nvalid = int(system(sprintf("grep -c '^valid,' '%s'", csv)))
if (nvalid > 0) {
	plot for [c=8:ncols] valid using ($4/3600):c with linespoints pt 7 ps 0.6 lw (c == ncols ? 3 : 1.5) \
		title substr(word(names, c), 5, 99)
} else {
	set xrange [0:1]
	set yrange [0:1]
	set label 1 'no validation rows (tf-train --valid 0)' at graph 0.5, 0.5 center
	plot -1 notitle
}
unset multiplot
