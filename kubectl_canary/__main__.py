from kubectl_canary.startup import command

command()
