set terminal pngcairo size 720,480 enhanced font ',10'
set grid
set key left top
set xlabel 'cores (ranks x threads) / baseline'
set datafile missing 'NaN'
set output 'plots/speedup.png'
set title 'Speedup vs ideal'
set ylabel 'speedup (samples/s vs baseline)'
set xrange [0:4.4]
set yrange [0:4.4]
plot x title 'ideal' with lines dashtype 2 lc rgb 'gray', 'plots/series0.dat' using 5:4 title 'strong 784-2048-2048-10' with linespoints pt 7 lc 1, 'plots/series0.dat' using 5:4:(sprintf('%dx%d', $2, $3)) notitle with labels offset char 1.5,-0.7 font ',8', 'plots/series1.dat' using 5:4 title 'weak 784-2048-2048-10' with linespoints pt 7 lc 2, 'plots/series1.dat' using 5:4:(sprintf('%dx%d', $2, $3)) notitle with labels offset char 1.5,-0.7 font ',8'
set output 'plots/efficiency.png'
set title 'Parallel efficiency'
set ylabel 'efficiency'
set yrange [0:1.2]
set key left bottom
plot 1 title 'ideal' with lines dashtype 2 lc rgb 'gray', 'plots/series0.dat' using 5:6 title 'strong 784-2048-2048-10' with linespoints pt 7 lc 1, 'plots/series0.dat' using 5:7 title 'strong 784-2048-2048-10 (model)' with linespoints dashtype 2 pt 6 lw 1.5 lc 1, 'plots/series1.dat' using 5:6 title 'weak 784-2048-2048-10' with linespoints pt 7 lc 2, 'plots/series1.dat' using 5:7 title 'weak 784-2048-2048-10 (model)' with linespoints dashtype 2 pt 6 lw 1.5 lc 2
set output 'plots/phases.png'
set title 'Step time by phase'
set ylabel 'share of step time (%)'
set xlabel 'configuration (s: strong, w: weak; ranks x threads)'
set autoscale x
set yrange [0:113.2]
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.75
set key outside right top
set xtics rotate by -45
unset grid
set grid ytics
plot 'plots/phases.dat' using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3), '' using 4 title columnheader(4), '' using 5 title columnheader(5), '' using 6 title columnheader(6), '' using 7 title columnheader(7)
unset output
