from kfp_gcp.cli import main

main()
